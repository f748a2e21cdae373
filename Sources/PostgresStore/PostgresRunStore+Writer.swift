import Foundation
import Patterns
import PostgresNIO
import Runs

/// The writer: the loop, its batches, flushing and shutdown.
extension PostgresRunStore {
    /// The store's service loop: the pool, the listener, the fetches for followers and the
    /// writer, until `shutdown()` (or cancellation), which writes what is left first.
    public func run() async {
        guard buffer.writerStarted() else {
            logger.error("PostgresRunStore.run() called while it already runs; ignored")
            return
        }
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.clients.run() }
                group.addTask { await self.listener.run(self.listenerHandlers()) }
                group.addTask { await self.mirrors.runFetches { runID, log in await self.fetch(runID, into: log) } }
                group.addTask { await self.maintainLease() }
                group.addTask {
                    await self.writeUntilStopped()
                    // The writer wrote its last batch, and the lease loop ended its last round
                    // (a round on a stopped pool would never end): now the rest may stop.
                    await self.leaseEnded.wait()
                    self.listener.stop()
                    self.mirrors.finish()
                    self.cancels.continuation.finish()
                    self.lost.continuation.finish()
                    self.clients.stop()
                }
            }
        } onCancel: {
            requestStop()
        }
        buffer.writerStopped()
        writerEnded.fire()
    }

    func requestStop() {
        buffer.requestStop()
        stopRequested.fire()
    }

    private func writeUntilStopped() async {
        var failures = 0
        var lastCommit = ContinuousClock.now - options.batchInterval
        var lastDuration = Duration.zero
        while true {
            await buffer.waitForWork()
            // Group commit: what arrives meanwhile joins the next batch, which waits as long as
            // the last commit took (bounded both ways): low latency idle, bigger batches loaded.
            let due = lastCommit + options.spacing(afterCommitOf: lastDuration)
            if !buffer.isStopRequested, ContinuousClock.now < due {
                _ = await stopRequested.wait(timeout: ContinuousClock.now.duration(to: due))
            }
            lastCommit = .now
            let outcome = await writeBatch()
            lastDuration = lastCommit.duration(to: .now)
            switch outcome {
            case .idle:
                if buffer.isStopRequested { return }
            case .committed:
                failures = 0
            case .failed:
                // Stopping: that was the last attempt (what is left is logged by `shutdown`).
                if buffer.isStopRequested { return }
                failures += 1
                await backOff(failures: failures)
            }
        }
    }

    /// 0.5 s doubling up to 5 s, cut short by a stop or by the database's return.
    private func backOff(failures: Int) async {
        let delay = Duration.milliseconds(min(5_000, 500 << min(failures - 1, 4)))
        let back = reconnected.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = await self.stopRequested.wait(timeout: delay) }
            group.addTask { await back.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    enum BatchOutcome { case idle, committed, failed }

    /// Writes the pending saves (unless a flush is writing them) and every live run's new events
    /// in one transaction.
    private func writeBatch() async -> BatchOutcome {
        do {
            return try await writeLock.withLock {
                let saves: [PendingSave]
                if case .batch(let batch) = buffer.takeBatch() { saves = batch } else { saves = [] }
                return await write(saves: saves, owned: !saves.isEmpty)
            }
        } catch {
            return .failed  // cancelled while waiting for the lock
        }
    }

    /// Writes `saves` (whose batch this caller took from the buffer when `owned`) with the live
    /// events; finishes the buffer's attempt. Call it holding `writeLock`.
    private func write(saves: [PendingSave], owned: Bool) async -> BatchOutcome {
        let live = tails.take()
        guard !saves.isEmpty || !live.isEmpty else { return .idle }
        let batch: PostgresBatch
        do {
            batch = try PostgresBatch(
                saves: saves, live: live, owner: instanceID, releasesPermits: options.clusterMaxConcurrentRuns != nil,
                written: tails.written)
        } catch {
            return finish(
                saves: saves, live: live, .failure(RunStoreError(kind: .failed, path: url.redacted, detail: "\(error)")), owned: owned)
        }
        // Pruning scans an index: only when runs ended (as the SQLite store, after each batch).
        let prune = saves.contains { $0.record.status.isTerminal }
        let result: Result<PostgresBatch.Outcome, RunStoreError>
        do {
            let client = clients.current
            let logger = logger
            let retention = options.retention
            let cutoff = retention.cutoffID(now: now())
            result = .success(
                try await withDeadline(options.queryTimeout) {
                    try await client.withTransaction(logger: logger) { connection in
                        try await batch.commit(on: connection, prune: prune ? retention : nil, cutoffID: cutoff, logger: logger)
                    }
                })
        } catch {
            result = .failure(PostgresFailure.classify(error, url: url))
        }
        return finish(saves: saves, live: live, result, owned: owned)
    }

    private func finish(
        saves: [PendingSave], live: [LiveTails.Work], _ result: Result<PostgresBatch.Outcome, RunStoreError>, owned: Bool
    ) -> BatchOutcome {
        switch result {
        case .success(let outcome):
            tails.committed(live.filter { outcome.liveAccepted.contains($0.runID) })
            // A live run without its row yet (its first save waits in another batch) tries again;
            // one whose row the fence refused is no longer followed.
            let refused = live.filter { !outcome.liveAccepted.contains($0.runID) }
            tails.failed(refused.filter { buffer.lookup($0.runID) != nil })
            // Fenced: the run is no longer this instance's (another interrupted it).
            reportLost(refused.filter { buffer.lookup($0.runID) == nil }.map(\.runID))
            for save in saves where save.events != nil { tails.remove(save.record.id) }
            buffer.recordPruned(outcome.pruned)
            let dropped = owned ? buffer.finishBatch(committed: true, error: nil) : 0
            state.withLock { state in
                state.statistics.commits += 1
                state.statistics.lostRuns += outcome.rejected.count
            }
            if !outcome.rejected.isEmpty {
                logger.warning("runs no longer this instance's were not written", metadata: ["runs": "\(outcome.rejected.sorted())"])
                reportLost(saves.filter { outcome.rejected.contains($0.record.id) && !$0.record.status.isTerminal }.map(\.record.id))
            }
            reportDropped(dropped)
            return .committed
        case .failure(let error):
            tails.failed(live)
            let dropped = owned ? buffer.finishBatch(committed: false, error: error) : 0
            logger.error(
                "run store write failed; the runs stay queued for the next attempt",
                metadata: ["store": "\(url.redacted)", "runs": "\(saves.count)", "live_runs": "\(live.count)", "error": "\(error)"])
            reportDropped(dropped)
            return .failed
        }
    }

    private func reportDropped(_ dropped: Int) {
        guard dropped > 0 else { return }
        logger.error(
            "run store is not keeping up; dropped the oldest unsaved runs",
            metadata: ["store": "\(url.redacted)", "dropped": "\(dropped)", "kept": "\(buffer.maxPendingRuns)"])
    }

    /// Waits until every save made before the call has been written, or its write has failed
    /// (then `isHealthy` says so and the runs stay queued). Writes the batch itself when the
    /// writer is not writing.
    public func flush() async {
        guard let target = buffer.flushTarget() else { return }
        while true {
            switch buffer.flushStep(toward: target) {
            case .done: return
            case .drain(let saves):
                do {
                    _ = try await writeLock.withLock { await write(saves: saves, owned: true) }
                } catch {
                    _ = buffer.finishBatch(committed: false, error: RunStoreError(kind: .failed, path: url.redacted, detail: "cancelled"))
                }
            case .wait: await buffer.waitForAttemptEnd()
            }
        }
    }

    /// Stops the service loop after one last write of what is pending, and returns once it has
    /// (writes the pending saves itself if `run()` is not running); marks the instance stopped.
    public func shutdown() async {
        let running = buffer.requestStop()
        stopRequested.fire()
        if running {
            await writerEnded.wait()
        } else {
            await flush()
        }
        let statistics = buffer.statistics
        if statistics.pendingRuns > 0 {
            logger.error(
                "run store stopped with unsaved runs",
                metadata: ["store": "\(url.redacted)", "unsaved": "\(statistics.pendingRuns)",
                    "error": "\(statistics.lastWriteError.map(String.init(describing:)) ?? "none")"])
        } else {
            logger.info("run store flushed", metadata: ["store": "\(url.redacted)", "written": "\(statistics.runsWritten)"])
        }
        await deregister()
    }
}
