import Foundation
import Patterns
import Synchronization

/// A `RunStore` that keeps everything in memory, newest last: for tests and for a registry
/// given no store. Saves are visible at once; retention prunes on each save of an ended run.
public final class InMemoryRunStore: RunStore {
    private struct State {
        var records: [String: RunRecord] = [:]
        var events: [String: [StoredEvent]] = [:]
        /// Ids in creation order; ids sort by creation (ULIDs), so this stays sorted.
        var order: [String] = []
    }

    private let state = Mutex(State())
    public let retention: RunRetention
    private let now: @Sendable () -> Date

    public init(retention: RunRetention = RunRetention(keepRuns: .max), now: @escaping @Sendable () -> Date = { Date() }) {
        self.retention = retention
        self.now = now
    }

    public func save(_ record: RunRecord, events: [StoredEvent]?) {
        state.withLock { state in
            if state.records.updateValue(record, forKey: record.id) == nil {
                let index = state.order.lastIndex { $0 < record.id }.map { $0 + 1 } ?? 0
                state.order.insert(record.id, at: index)
            }
            if let events { state.events[record.id] = events }
            if record.status.isTerminal { prune(&state) }
        }
    }

    /// Deletes the finished runs past the newest `keepRuns` and those older than `keepDays`.
    private func prune(_ state: inout State) {
        var doomed: Set<String> = []
        if state.order.count > retention.keepRuns {
            let oldestKept = state.order[state.order.count - max(1, retention.keepRuns)]
            doomed.formUnion(state.order.prefix { $0 < oldestKept })
        }
        if let cutoff = retention.cutoffID(now: now()) { doomed.formUnion(state.order.prefix { $0 < cutoff }) }
        doomed = doomed.filter { state.records[$0]?.status.isTerminal ?? true }
        guard !doomed.isEmpty else { return }
        state.order.removeAll { doomed.contains($0) }
        for id in doomed {
            state.records[id] = nil
            state.events[id] = nil
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
                let interrupted = record.interrupted(at: date)
                state.records[id] = interrupted
                var events = state.events[id] ?? []
                events.append(interrupted.finishedEvent(id: events.count + 1, links: links))
                state.events[id] = events
                count += 1
            }
            return count
        }
    }

    public func flush() async {}
    public func run() async {}
    public func shutdown() async {}
    public var isHealthy: Bool { true }
}
