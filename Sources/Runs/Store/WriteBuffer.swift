import Synchronization

/// A save not yet committed: the newest record of a run and, once the run ended, its events.
package struct PendingSave: Sendable {
    package var record: RunRecord
    package var events: [StoredEvent]?

    package init(record: RunRecord, events: [StoredEvent]?) {
        self.record = record
        self.events = events
    }

    /// `newer` replaces this save; events it does not carry are kept (as `RunStore.save` says).
    package func superseded(by newer: PendingSave) -> PendingSave {
        PendingSave(record: newer.record, events: newer.events ?? events)
    }
}

/// The saves of a store (SQLite, PostgreSQL) that are not committed yet, and who is writing them.
///
/// Invariants:
/// - one drainer at a time holds a batch (`draining`), and a batch takes every pending save,
///   so a run's saves reach the file in the order they were made;
/// - a save is readable here from the moment `enqueue` returns until its batch committed
///   (first in `pending`, then in `inFlight`), so a read that misses it here finds it in the file;
/// - a failed batch goes back under any newer saves of the same runs, for the next attempt;
/// - attempts are numbered; `flush` waits for the attempt that takes what was pending at its call.
package final class WriteBuffer: Sendable {
    private struct State {
        var pending: [String: PendingSave] = [:]
        var inFlight: [String: PendingSave] = [:]
        var draining = false
        var attemptsStarted: UInt64 = 0
        var attemptsFinished: UInt64 = 0
        var attemptWaiters: [CheckedContinuation<Void, Never>] = []
        var parkedWriter: CheckedContinuation<Void, Never>?
        var stopRequested = false
        /// Work other than saves arrived (a shared store's live events): the writer must look.
        var nudged = false
        var writerRunning = false
        var statistics = RunStoreStatistics()
        var droppedSinceReported = 0
    }

    package enum Take {
        case batch([PendingSave])
        /// Nothing pending.
        case empty
        /// Another drainer holds a batch.
        case busy
    }

    package enum FlushStep {
        case done
        case drain([PendingSave])
        case wait
    }

    /// Past this many runs waiting (the store cannot write), the oldest are dropped.
    package let maxPendingRuns: Int
    private let state = Mutex(State())
    /// `statistics.lastWriteError != nil`, readable without the lock (`lastWriteFailed`).
    private let writeFailed = Atomic<Bool>(false)

    package init(maxPendingRuns: Int) {
        self.maxPendingRuns = max(1, maxPendingRuns)
    }

    // MARK: Saves and reads

    package func enqueue(_ save: PendingSave) {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            let id = save.record.id
            state.pending[id] = state.pending[id].map { $0.superseded(by: save) } ?? save
            // Only while the writer fails or lags: keep memory bounded, lose the oldest runs.
            while state.pending.count > maxPendingRuns, let oldest = state.pending.keys.min() {
                state.pending[oldest] = nil
                state.statistics.droppedRuns += 1
                state.droppedSinceReported += 1
            }
            defer { state.parkedWriter = nil }
            return state.parkedWriter
        }
        writer?.resume()
    }

    /// The newest unsaved state of a run, if it has one.
    package func lookup(_ id: String) -> PendingSave? {
        state.withLock { state in
            switch (state.inFlight[id], state.pending[id]) {
            case (let older?, let newer?): older.superseded(by: newer)
            case (let older?, nil): older
            case (nil, let newer): newer
            }
        }
    }

    /// The newest unsaved state of every run that has one.
    package func snapshot() -> [String: PendingSave] {
        state.withLock { state in
            state.inFlight.merging(state.pending) { older, newer in older.superseded(by: newer) }
        }
    }

    // MARK: Draining

    /// Takes every pending save for one write, unless someone else is writing.
    package func takeBatch() -> Take {
        state.withLock { state in take(&state) }
    }

    private func take(_ state: inout State) -> Take {
        if state.draining { return .busy }
        if state.pending.isEmpty { return .empty }
        precondition(state.inFlight.isEmpty, "a batch is in flight while nobody drains")
        state.draining = true
        state.attemptsStarted += 1
        swap(&state.inFlight, &state.pending)
        return .batch(state.inFlight.values.sorted { $0.record.id < $1.record.id })
    }

    /// Ends the attempt that `takeBatch` began: on success the batch leaves the buffer, on
    /// failure it goes back for the next attempt. Returns the runs dropped since last asked.
    @discardableResult
    package func finishBatch(committed: Bool, error: RunStoreError?) -> Int {
        let (waiters, dropped) = state.withLock { state in
            precondition(state.draining, "finishing a batch nobody took")
            if committed {
                state.statistics.runsWritten += state.inFlight.count
                state.statistics.batchesWritten += 1
                state.statistics.lastWriteError = nil
                writeFailed.store(false, ordering: .relaxed)
            } else {
                state.statistics.failedWrites += 1
                state.statistics.lastWriteError = error
                writeFailed.store(true, ordering: .relaxed)
                for (id, failed) in state.inFlight {
                    state.pending[id] = state.pending[id].map { failed.superseded(by: $0) } ?? failed
                }
            }
            state.inFlight = [:]
            state.draining = false
            state.attemptsFinished += 1
            defer {
                state.attemptWaiters = []
                state.droppedSinceReported = 0
            }
            return (state.attemptWaiters, state.droppedSinceReported)
        }
        for waiter in waiters { waiter.resume() }
        return dropped
    }

    package func recordPruned(_ count: Int) {
        state.withLock { $0.statistics.prunedRuns += count }
    }

    /// The attempt a flush called now must see finish, or nil when nothing is unsaved.
    package func flushTarget() -> UInt64? {
        state.withLock { state in
            if !state.pending.isEmpty { return state.attemptsStarted + 1 }
            return state.draining ? state.attemptsStarted : nil
        }
    }

    /// What a flush waiting for attempt `target` does next: it drains itself when nobody is.
    package func flushStep(toward target: UInt64) -> FlushStep {
        state.withLock { state in
            if state.attemptsFinished >= target { return .done }
            switch take(&state) {
            case .batch(let batch): return .drain(batch)
            case .busy: return .wait
            case .empty: preconditionFailure("an attempt is owed but nothing is pending or in flight")
            }
        }
    }

    /// Returns once the attempt in progress (if any) has finished.
    package func waitForAttemptEnd() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = state.withLock { state -> Bool in
                guard state.draining else { return false }
                state.attemptWaiters.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    // MARK: The writer loop

    /// Marks the writer loop running; false if one already runs.
    package func writerStarted() -> Bool {
        state.withLock { state in
            defer { state.writerRunning = true }
            return !state.writerRunning
        }
    }

    package func writerStopped() {
        state.withLock { $0.writerRunning = false }
    }

    /// Asks the writer loop to drain and end; returns whether it is running.
    @discardableResult
    package func requestStop() -> Bool {
        let (writer, running) = state.withLock { state in
            state.stopRequested = true
            defer { state.parkedWriter = nil }
            return (state.parkedWriter, state.writerRunning)
        }
        writer?.resume()
        return running
    }

    /// Whether a writer loop runs (a caller may wait for its next attempt).
    package var isWriterRunning: Bool { state.withLock { $0.writerRunning } }

    package var isStopRequested: Bool { state.withLock { $0.stopRequested } }

    /// Parks the writer loop until a save arrives, `nudge` is called, or a stop is requested.
    package func waitForWork() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let parked = state.withLock { state -> Bool in
                defer { state.nudged = false }
                guard state.pending.isEmpty, !state.stopRequested, !state.nudged else { return false }
                precondition(state.parkedWriter == nil, "two writer loops")
                state.parkedWriter = continuation
                return true
            }
            if !parked { continuation.resume() }
        }
    }

    /// Wakes the writer loop for work the buffer does not hold (a shared store's live events);
    /// remembered when the loop is not parked, so a nudge is never lost.
    package func nudge() {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.nudged = true
            defer { state.parkedWriter = nil }
            return state.parkedWriter
        }
        writer?.resume()
    }

    /// Returns once attempt `target` (a `flushTarget()`) has finished, without writing anything
    /// itself: a caller that wants its save visible waits for the writer's next batch.
    package func waitForAttempt(_ target: UInt64) async {
        while state.withLock({ $0.attemptsFinished < target }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state -> Bool in
                    guard state.attemptsFinished < target else { return false }
                    state.attemptWaiters.append(continuation)
                    return true
                }
                if !waiting { continuation.resume() }
            }
        }
    }

    /// Whether the last write failed. Asked on every health check, so it is read from an
    /// atomic kept beside the statistics (set under the lock with `lastWriteError`), not under
    /// the lock: taking the lock writes it, and the server's threads would take its cache line
    /// from each other.
    package var lastWriteFailed: Bool {
        writeFailed.load(ordering: .relaxed)
    }

    package var statistics: RunStoreStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.pendingRuns = state.pending.count + state.inFlight.count
            return statistics
        }
    }
}
