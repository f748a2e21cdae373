import Foundation
import PostgresNIO
import Runs

/// The instance's lease, the reaper and the cluster permits (the rules: `InstanceLease`).
extension PostgresRunStore {
    /// Every third of the lease until `shutdown()`: renew this instance's heartbeat, look for its
    /// runs another instance interrupted, reap the instances whose lease expired, count permits.
    func maintainLease() async {
        let period = options.renewalInterval ?? options.lease / 3
        while !stopRequested.isFired {
            let renewed = await leaseRound()
            // A failed round is tried again soon: the lease may be running out.
            _ = await stopRequested.wait(timeout: renewed ? period : min(period, .milliseconds(250)))
        }
        leaseEnded.fire()
    }

    /// One round, each step in a transaction of its own: a failed reap does not undo the heartbeat.
    @discardableResult
    func leaseRound() async -> Bool {
        let client = clients.current
        let me = instanceID
        let logger = logger
        let local = tails.runIDs
        let links = state.withLock { $0.links }
        let limit = min(options.queryTimeout, max(options.lease, .seconds(1)))
        do {
            let (reapedMe, lost) = try await withDeadline(limit) {
                try await client.withTransaction(logger: logger) { connection in
                    let reaped = try await InstanceLease.renew(connection, instanceID: me, logger: logger)
                    return (reaped, try await InstanceLease.interrupted(connection, among: local, logger: logger))
                }
            }
            state.withLock { $0.statistics.heartbeats += 1 }
            if reapedMe { logger.warning("this instance's lease had expired; another instance took over its runs") }
            reportLost(lost)
            try await reap(client, links: links, limit: limit)
            try await countPermits(client)
            leaseSucceeded()
            return true
        } catch {
            leaseFailed(error)
            return false
        }
    }

    /// The reaper's turn: interrupts the runs of the instances whose lease expired.
    private func reap(_ client: PostgresClient, links: RunLinks, limit: Duration) async throws {
        let logger = logger
        let reaped = try await withDeadline(limit) {
            try await client.withTransaction(logger: logger) { connection in
                try await InstanceLease.reap(connection, links: links, logger: logger)
            }
        }
        guard !reaped.instances.isEmpty else { return }
        state.withLock { state in
            state.statistics.instancesReaped += reaped.instances.count
            state.statistics.runsReaped += reaped.runs.count
        }
        // An instance that stopped cleanly left no run: its lease runs out quietly.
        logger.log(
            level: reaped.runs.isEmpty ? .debug : .notice, "instances' leases expired: their runs are interrupted",
            metadata: ["instances": "\(reaped.instances)", "runs": "\(reaped.runs.count)"])
    }

    private func leaseSucceeded() {
        if state.withLock({ state in defer { state.leaseFailing = false }; return state.leaseFailing }) {
            logger.notice("lease renewed again")
        }
    }

    private func leaseFailed(_ error: any Error) {
        let first = state.withLock { state in defer { state.leaseFailing = true }; return !state.leaseFailing }
        guard first else { return }
        logger.error(
            "could not renew this instance's lease; if it stays so past the lease, another instance interrupts its runs",
            metadata: ["error": "\(PostgresFailure.classify(error, url: url))"])
    }

    /// Runs of this instance another instance marked `interrupted`: the registry cancels them here.
    func reportLost(_ runIDs: [String]) {
        guard !runIDs.isEmpty else { return }
        logger.warning("runs of this instance were interrupted by another (lease expired); cancelling them here",
            metadata: ["runs": "\(runIDs.sorted())"])
        for id in runIDs {
            tails.remove(id)
            lost.continuation.yield(id)
        }
    }

    /// Deregisters this instance (graceful stop).
    func deregister() async {
        let me = instanceID
        do {
            _ = try await Self.withConnection(url, .seconds(2), logger) { [logger] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await InstanceLease.deregister(connection, instanceID: me, logger: logger)
                }
            }
        } catch {
            logger.warning("could not deregister this instance; its lease expires by itself", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Cluster permits

    public var clusterRunLimit: Int? { options.clusterMaxConcurrentRuns }

    /// Permits taken cluster-wide, as of the last lease round (nil without a cluster bound).
    public var permitsInUse: Int? {
        options.clusterMaxConcurrentRuns == nil ? nil : state.withLock { $0.permitsInUse }
    }

    public var lostRuns: AsyncStream<String> { lost.stream }

    /// Takes a free permit for `runID`: true, or false at once when all are taken.
    public func acquirePermit(runID: String) async throws -> Bool {
        guard let slots = options.clusterMaxConcurrentRuns else { return true }
        let me = instanceID
        let taken = try await reading { client in
            var taken = false
            for try await _ in try await client.query(
                """
                UPDATE run_permits SET run_id = \(runID), owner = \(me), taken_at = now()
                WHERE slot = (SELECT slot FROM run_permits WHERE run_id IS NULL AND slot <= \(slots)
                    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING slot
                """
            ).decode(Int.self) {
                taken = true
            }
            return taken
        }
        state.withLock { state in
            if taken { state.permitsInUse = min(slots, state.permitsInUse + 1) } else { state.statistics.permitsRefused += 1 }
        }
        return taken
    }

    /// Returns the permit of a launch that did not start after all (the run's own end returns it
    /// with its final save).
    public func releasePermit(runID: String) {
        guard options.clusterMaxConcurrentRuns != nil else { return }
        let me = instanceID
        Task {
            do {
                _ = try await reading { client in
                    try await client.execute(
                        "UPDATE run_permits SET run_id = NULL, owner = NULL, taken_at = NULL WHERE run_id = \(runID) AND owner = \(me)")
                }
            } catch {
                logger.warning("could not return a permit; it returns when this instance stops", metadata: ["run": "\(runID)"])
            }
        }
    }

    private func countPermits(_ client: PostgresClient) async throws {
        guard let slots = options.clusterMaxConcurrentRuns else { return }
        var inUse = 0
        for try await count in try await client.query(
            "SELECT count(*) FROM run_permits WHERE run_id IS NOT NULL AND slot <= \(slots)"
        ).decode(Int.self) {
            inUse = count
        }
        state.withLock { $0.permitsInUse = inUse }
    }
}
