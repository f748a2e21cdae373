import Patterns
import Runs
import Synchronization

/// The runs this instance owns whose events are written while they run, and how far each was
/// written: the owner's half of a live stream on another instance.
///
/// An append costs the run one atomic flag (and, the first time after a write, one nudge of the
/// writer); the writer takes every flagged run's new events in its next batch. Nothing is
/// copied until then: the run's own log is the buffer, so a database that lags or fails costs
/// no memory beyond the logs the runs keep anyway.
///
/// A run's `run.finished` is left to its final save, which writes the ended run and its last
/// events in one transaction: a follower that sees `run.finished` then reads the run ended.
final class LiveTails: Sendable {
    /// What one batch writes for one live run: its events after the last written one, and
    /// its progress now.
    struct Work: Sendable {
        let runID: String
        let events: [StoredEvent]
        let snapshot: RunRecord
    }

    /// `written` and `observer` are touched under `LiveTails.tails`' lock only.
    private final class Tail: @unchecked Sendable {
        weak let log: EventLog?
        let snapshot: @Sendable () -> RunRecord?
        let dirty = Atomic<Bool>(true)
        var written = 0
        var observer: UInt64 = 0

        init(log: EventLog, snapshot: @escaping @Sendable () -> RunRecord?) {
            self.log = log
            self.snapshot = snapshot
        }
    }

    /// Events of one run in one batch at most: bounds a statement and a transaction.
    static let maxEventsPerRun = 5_000
    private let tails = Mutex<[String: Tail]>([:])

    /// Follows `log` from now on; `wake` is called (on the appending thread) when it has new
    /// events for the writer. The log and the run are held weakly: a run forgotten by the
    /// registry is dropped here too.
    func add(runID: String, log: EventLog, snapshot: @escaping @Sendable () -> RunRecord?, wake: @escaping @Sendable () -> Void) {
        let tail = Tail(log: log, snapshot: snapshot)
        tail.observer = log.addObserver { [weak tail] in
            if let tail, !tail.dirty.exchange(true, ordering: .acquiringAndReleasing) { wake() }
        }
        tails.withLock { $0[runID] = tail }
        wake()
    }

    /// The work of every run with new events, for the next batch.
    func take() -> [Work] {
        tails.withLock { tails in
            var work: [Work] = []
            for (runID, tail) in tails where tail.dirty.exchange(false, ordering: .acquiringAndReleasing) {
                guard let log = tail.log, let snapshot = tail.snapshot() else {
                    tails[runID] = nil
                    continue
                }
                var (events, _, _) = log.events(after: tail.written, limit: Self.maxEventsPerRun)
                if events.count == Self.maxEventsPerRun { tail.dirty.store(true, ordering: .releasing) }
                if events.last?.name == "run.finished" { events.removeLast() }
                guard !events.isEmpty else { continue }
                work.append(Work(runID: runID, events: events, snapshot: snapshot))
            }
            return work
        }
    }

    /// The batch committed: `work` is written.
    func committed(_ work: [Work]) {
        tails.withLock { tails in
            for item in work {
                guard let tail = tails[item.runID], let last = item.events.last else { continue }
                tail.written = max(tail.written, last.id)
            }
        }
    }

    /// The batch failed: the same events go in the next one.
    func failed(_ work: [Work]) {
        tails.withLock { tails in
            for item in work { tails[item.runID]?.dirty.store(true, ordering: .releasing) }
        }
    }

    /// The last event written of a run (0 when none was): its final save writes the rest.
    func written(_ runID: String) -> Int {
        tails.withLock { $0[runID]?.written ?? 0 }
    }

    /// The run's final save committed: stop following it.
    func remove(_ runID: String) {
        guard let tail = tails.withLock({ $0.removeValue(forKey: runID) }) else { return }
        tail.log?.removeObserver(tail.observer)
    }

    var count: Int { tails.withLock { $0.count } }

    /// The runs followed now: this instance's live runs.
    var runIDs: [String] { tails.withLock { Array($0.keys) } }
}
