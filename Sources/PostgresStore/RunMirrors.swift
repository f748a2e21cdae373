import Patterns
import Runs
import Synchronization

/// The runs of other instances that someone here follows: one log per run, filled from the
/// store by one query per notification, whatever the number of its subscribers.
///
/// A mirror is held weakly: it lives as long as someone uses its log (an event stream's fan-out,
/// a `?wait=`), and a notification for a run nobody follows costs a dictionary lookup. Fetches
/// of one run never overlap: a notification that arrives during a fetch asks for one more after
/// it (the next fetch reads everything committed by then), so a burst costs at most two queries.
final class RunMirrors: Sendable {
    private final class Entry: @unchecked Sendable {
        weak let log: EventLog?
        /// Touched under `RunMirrors.state`'s lock only.
        var fetching = false
        var again = false

        init(log: EventLog) { self.log = log }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var fetchQueue: AsyncStream<String>.Continuation?
    }

    private let state = Mutex(State())
    private let queue: AsyncStream<String>
    let maxLag: Int

    init(maxLag: Int) {
        self.maxLag = maxLag
        let (queue, continuation) = AsyncStream.makeStream(of: String.self)
        self.queue = queue
        state.withLock { $0.fetchQueue = continuation }
    }

    /// The mirror of `runID`, and whether it was made now (then its caller fills it first).
    func mirror(of runID: String) -> (log: EventLog, isNew: Bool) {
        state.withLock { state in
            if let log = state.entries[runID]?.log { return (log, false) }
            let log = EventLog(maxLag: maxLag)
            state.entries[runID] = Entry(log: log)
            return (log, true)
        }
    }

    /// The mirror of `runID` if one is held (made only for a run the store has).
    func existing(_ runID: String) -> EventLog? {
        state.withLock { $0.entries[runID]?.log }
    }

    /// A batch of `runID` up to `lastEventID` was committed: fetch it if someone follows the run.
    func notified(runID: String, lastEventID: Int) {
        requestFetch(runID) { log in !log.isFinished && log.count < lastEventID }
    }

    /// Every followed run may have missed notifications (the listener reconnected): fetch each.
    func refetchAll() {
        let ids = state.withLock { Array($0.entries.keys) }
        for id in ids { requestFetch(id) { !$0.isFinished } }
    }

    private func requestFetch(_ runID: String, when needed: (EventLog) -> Bool) {
        state.withLock { state in
            guard let entry = state.entries[runID] else { return }
            guard let log = entry.log else {
                state.entries[runID] = nil
                return
            }
            guard needed(log) else { return }
            if entry.fetching {
                entry.again = true
            } else {
                entry.fetching = true
                state.fetchQueue?.yield(runID)
            }
        }
    }

    /// Runs the fetches asked for, each as a child task, until `finish()`.
    func runFetches(_ fetch: @escaping @Sendable (_ runID: String, _ log: EventLog) async -> Void) async {
        await withDiscardingTaskGroup { group in
            for await runID in queue {
                group.addTask { await self.fetchUntilCurrent(runID, fetch) }
            }
        }
    }

    private func fetchUntilCurrent(_ runID: String, _ fetch: @Sendable (String, EventLog) async -> Void) async {
        while let log = state.withLock({ $0.entries[runID]?.log }) {
            await fetch(runID, log)
            let again = state.withLock { state -> Bool in
                guard let entry = state.entries[runID] else { return false }
                if entry.again, entry.log.map({ !$0.isFinished }) == true {
                    entry.again = false
                    return true
                }
                entry.fetching = false
                entry.again = false
                if entry.log == nil || entry.log?.isFinished == true { state.entries[runID] = nil }
                return false
            }
            if !again { return }
        }
        state.withLock { _ = $0.entries.removeValue(forKey: runID) }
    }

    /// Ends `runFetches` (at shutdown).
    func finish() {
        state.withLock { state in
            state.fetchQueue?.finish()
            state.fetchQueue = nil
        }
    }

    /// Runs followed now (for tests and metrics).
    var count: Int { state.withLock { $0.entries.values.filter { $0.log != nil }.count } }
}
