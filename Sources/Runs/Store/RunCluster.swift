/// What instances that share one store tell each other, so that any of them answers for any
/// run: the PostgreSQL store implements it; a store of one process has no cluster.
///
/// A run executes on the instance that admitted it, its owner. The owner publishes the run's
/// events and progress as they happen; any other instance follows them from the store (replay,
/// then live) and forwards cancel requests to the owner.
public protocol RunCluster: Sendable {
    /// The owner's side, called at launch: the run's events (in batches, never blocking its
    /// tasks) and its progress (`snapshot`, nil once the run is forgotten) reach the store while
    /// it runs, and the others are told.
    func publish(runID: String, log: EventLog, snapshot: @escaping @Sendable () -> RunRecord?)
    /// Returns once the run's first save is in the store, where every instance sees it (at
    /// once when the store is failing): a launch answers after it, so the `Location` it gives
    /// works on any instance.
    func waitUntilVisible(runID: String) async
    /// A log of a run executing on another instance: its stored events, then each batch the
    /// owner commits; it finishes after `run.finished`. Callers asking for the same run while
    /// one holds it share one log, filled by one query per batch whatever their number.
    func follow(runID: String) async throws -> EventLog
    /// The log that follows the run here already, if someone holds one: answered at once, so a
    /// burst of subscribers to a followed run does not wait on the store (nor hold request slots).
    func followed(runID: String) -> EventLog?
    /// Asks the run's owner, wherever it runs, to cancel it.
    func requestCancel(runID: String) async throws
    /// Runs of this instance another instance asked to cancel (one consumer: the registry).
    var cancelRequests: AsyncStream<String> { get }
    /// Runs of this instance another instance marked `interrupted` because this one's lease
    /// expired (it was paused or cut off): the registry cancels them here (one consumer).
    var lostRuns: AsyncStream<String> { get }
    /// The bound on runs active at once across the cluster; nil when there is none.
    var clusterRunLimit: Int? { get }
    /// Permits taken cluster-wide (as of the store's last look); nil when there is no bound.
    var permitsInUse: Int? { get }
    /// Takes one of the cluster's permits for `runID`: false at once when none is free. The run's
    /// final save returns it (or the reaper, when its owner dies).
    func acquirePermit(runID: String) async throws -> Bool
    /// Returns the permit of a launch that did not start after all.
    func releasePermit(runID: String)
}
