import Foundation

/// What the registry does for runs that execute on another instance sharing the store.
extension RunRegistry {
    /// A cancel request another instance forwarded: cancels the run if it runs here.
    func cancelRequested(id: String) {
        guard let live = liveRun(id: id), !live.hasEnded else { return }
        live.cancelRequested.fire()
    }

    /// A run of this instance that another marked `interrupted` (this one's lease expired):
    /// cancelled here; its end is not written (the fence refuses it) nor kept in memory.
    func runLost(id: String) {
        guard let live = liveRun(id: id), !live.hasEnded else { return }
        lost.insert(id)
        live.cancelRequested.fire()
    }

    /// The run as it is once it ended or `timeout` passed, whichever is first: a run of this
    /// instance is waited on in memory, a run of another instance through the cluster (woken
    /// by the store's notification of its end, not by polling).
    public func waitForEnd(id: String, timeout: Duration) async throws(RunsError) -> RunRecord {
        if let live = live(id: id) {
            _ = await live.finished.wait(timeout: timeout)
            return live.snapshot()
        }
        let record = try await record(id: id)
        guard !record.status.isTerminal, let cluster else { return record }
        let log: EventLog
        do {
            log = try await cluster.follow(runID: id)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        _ = await log.waitUntilFinished(timeout: timeout)
        return try await self.record(id: id)
    }

    /// The log following another instance's run here, if one is held: a stream of it starts
    /// without a hop or a query.
    public nonisolated func followedLog(id: String) -> EventLog? {
        cluster?.followed(runID: id)
    }

    /// Returns once a run launched here is visible to every instance (at once without a cluster).
    public nonisolated func waitUntilVisible(_ live: LiveRun) async {
        await cluster?.waitUntilVisible(runID: live.id)
    }
}
