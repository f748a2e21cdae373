import Foundation
import Patterns
import Synchronization

/// A `RunStore` that keeps everything in memory, newest last: for tests and for a server
/// started with no database.
public final class InMemoryRunStore: RunStore {
    private struct State {
        var records: [String: RunRecord] = [:]
        var events: [String: [StoredEvent]] = [:]
        /// Ids in creation order; ids sort by creation (ULIDs), so this stays sorted.
        var order: [String] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func save(_ record: RunRecord, events: [StoredEvent]?) {
        state.withLock { state in
            if state.records.updateValue(record, forKey: record.id) == nil {
                let index = state.order.lastIndex { $0 < record.id }.map { $0 + 1 } ?? 0
                state.order.insert(record.id, at: index)
            }
            if let events { state.events[record.id] = events }
        }
    }

    public func record(id: String) async throws -> RunRecord? {
        state.withLock { $0.records[id] }
    }

    public func events(runID: String) async throws -> [StoredEvent]? {
        state.withLock { $0.events[runID] }
    }

    public func list(_ query: RunQuery) async throws -> RunPage {
        state.withLock { state in
            var page: [RunRecord] = []
            var hasMore = false
            for id in state.order.reversed() {
                if let before = query.before, id >= before { continue }
                guard let record = state.records[id] else { continue }
                if let pattern = query.pattern, record.pattern != pattern { continue }
                if let status = query.status, record.status != status { continue }
                if page.count == query.limit {
                    hasMore = true
                    break
                }
                page.append(record)
            }
            return RunPage(runs: page, nextCursor: hasMore ? page.last?.id : nil)
        }
    }

    public func markInterrupted(at date: Date, links: RunLinks) async throws -> Int {
        state.withLock { state in
            var count = 0
            for (id, record) in state.records where !record.status.isTerminal {
                var interrupted = record
                interrupted.status = .interrupted
                interrupted.finishedAt = date
                interrupted.error = "the server stopped while this run was in flight"
                state.records[id] = interrupted
                count += 1
            }
            return count
        }
    }

    public func flush() async {}
}
