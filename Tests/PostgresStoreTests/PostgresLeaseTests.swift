import Foundation
import PostgresStore
import Runs
import Testing
import TestSupport

/// Leases and failover: an instance whose lease expired by the database's clock has its runs
/// interrupted once, by one survivor, with their `run.finished`; a live one's runs are left alone.
/// The lease is made to expire by shortening it in the database (the stalled instance renews
/// once at start, then not for an hour), never by sleeping through it.
@Suite(.timeLimit(.minutes(2))) struct PostgresLeaseTests {
    /// Survivors renew and reap every 0.2 s, on a lease long enough for a loaded machine (two
    /// cores, tests in parallel) never to judge them dead.
    static let shortLease = Duration.seconds(10)
    static let often = Duration.milliseconds(200)
    /// The stalled instance's lease, until a test shortens it; it renews once, at start.
    static let longLease = Duration.seconds(60)
    static let stalled = Duration.seconds(3_600)

    @Test func expiredLease_interruptsTheRunsOnce_andEveryFollowerEnds() async throws {
        try await ClusterFixture.with { cluster in
            let stalled = try await cluster.open("stalled", lease: Self.longLease, renewal: Self.stalled)
            let survivors = [try await cluster.open("b", lease: Self.shortLease, renewal: Self.often), try await cluster.open("c", lease: Self.shortLease, renewal: Self.often)]
            try await cluster.running([stalled] + survivors) {
                let run = PublishedRun(id: newRunID())
                run.launch(on: stalled)
                for index in 1...3 { run.tick(index) }
                await stalled.waitUntilVisible(runID: run.record.id)
                try await waitFor { try await survivors[0].record(id: run.record.id)?.progress.completed == 3 }
                let followed = try await survivors[0].follow(runID: run.record.id)
                async let delivered = collect(followed)
                try await waitFor { stalled.clusterStatistics.heartbeats >= 1 }

                // Within its lease: the survivors reap nothing.
                let rounds = survivors[0].clusterStatistics.heartbeats
                try await waitFor { survivors[0].clusterStatistics.heartbeats >= rounds + 3 }
                #expect(try await survivors[1].record(id: run.record.id)?.status == .running)

                try cluster.expireLease(of: stalled)
                let events = await delivered
                #expect(events.map(\.name) == ["tick", "tick", "tick", "run.finished"])
                #expect(events.last.map { String(decoding: $0.data, as: UTF8.self).contains(#""status":"interrupted""#) } == true)
                #expect(try await survivors[1].record(id: run.record.id)?.status == .interrupted)
                // Exactly once, by one survivor (its statistics follow its commit).
                try await waitFor { survivors.map(\.clusterStatistics.runsReaped).reduce(0, +) >= 1 }
                #expect(survivors.map(\.clusterStatistics.instancesReaped).reduce(0, +) == 1)
                #expect(survivors.map(\.clusterStatistics.runsReaped).reduce(0, +) == 1)
                #expect(try cluster.database.sql("SELECT count(*) FROM instances WHERE reaped_at IS NOT NULL") == "1")
                let finished = try cluster.database.sql("SELECT count(*) FROM events WHERE run_id = '\(run.record.id)' AND name = 'run.finished'")
                #expect(finished == "1")
                // The survivors' own leases were never judged expired.
                #expect(survivors.allSatisfy { $0.clusterStatistics.heartbeats > 3 })
                let reapedSurvivors = try cluster.database.sql(
                    "SELECT count(*) FROM instances WHERE reaped_at IS NOT NULL AND id IN ('\(survivors[0].instanceID)', '\(survivors[1].instanceID)')")
                #expect(reapedSurvivors == "0")
            }
        }
    }

    @Test func pausedOwner_cannotBringBackAnInterruptedRun_andCancelsItHere() async throws {
        try await ClusterFixture.with { cluster in
            let paused = try await cluster.open("paused", lease: Self.longLease, renewal: Self.stalled)
            let survivor = try await cluster.open("b", lease: Self.shortLease, renewal: Self.often)
            try await cluster.running([paused, survivor]) {
                let run = PublishedRun(id: newRunID())
                run.launch(on: paused)
                for index in 1...2 { run.tick(index) }
                await paused.waitUntilVisible(runID: run.record.id)
                try await waitFor { try await survivor.record(id: run.record.id)?.progress.completed == 2 }
                try await waitFor { paused.clusterStatistics.heartbeats >= 1 }
                async let lost = paused.lostRuns.first { _ in true }
                try cluster.expireLease(of: paused)
                try await waitFor { try await survivor.record(id: run.record.id)?.status == .interrupted }

                // The owner comes back: its late events and its end are refused, and it notices.
                for index in 3...6 { run.tick(index) }
                #expect(await lost == run.record.id)
                run.finish(on: paused)
                await paused.flush()
                #expect(paused.isHealthy)
                #expect(try await survivor.record(id: run.record.id)?.status == .interrupted)
                let events = try #require(try await survivor.events(runID: run.record.id))
                #expect(events.map(\.name) == ["tick", "tick", "run.finished"])
            }
        }
    }

    @Test func clusterPermits_boundEveryInstance_andComeBackAtTheRunsEnd_orAtLeaseExpiry() async throws {
        try await ClusterFixture.with { cluster in
            let doomed = try await cluster.open("doomed", lease: Self.longLease, renewal: Self.stalled, permits: 3)
            let other = try await cluster.open("b", lease: Self.shortLease, renewal: Self.often, permits: 3)
            try await cluster.running([doomed, other]) {
                let doomedRuns = [PublishedRun(id: newRunID()), PublishedRun(id: newRunID())]
                for run in doomedRuns {
                    #expect(try await doomed.acquirePermit(runID: run.record.id))
                    run.launch(on: doomed)
                }
                let mine = PublishedRun(id: newRunID())
                #expect(try await other.acquirePermit(runID: mine.record.id))
                mine.launch(on: other)
                #expect(try await other.acquirePermit(runID: newRunID()) == false)
                #expect(try await doomed.acquirePermit(runID: newRunID()) == false)
                try await waitFor { other.permitsInUse == 3 }

                // A run's end returns its permit, in the same transaction as its final save.
                mine.finish(on: other)
                await other.flush()
                let next = newRunID()
                #expect(try await other.acquirePermit(runID: next))
                #expect(try await other.acquirePermit(runID: newRunID()) == false)
                other.releasePermit(runID: next)
                try await waitFor { try cluster.database.sql("SELECT count(*) FROM run_permits WHERE run_id IS NOT NULL") == "2" }

                // The dead instance's permits come back when its lease expires (and its runs end).
                try await waitFor { doomed.clusterStatistics.heartbeats >= 1 }
                try cluster.expireLease(of: doomed)
                try await waitFor { try await other.record(id: doomedRuns[1].record.id)?.status == .interrupted }
                #expect(try cluster.database.sql("SELECT count(*) FROM run_permits WHERE owner IS NOT NULL") == "0")
                for _ in 0..<3 { #expect(try await other.acquirePermit(runID: newRunID())) }
                #expect(try await other.acquirePermit(runID: newRunID()) == false)
            }
        }
    }

    @Test func gracefulStop_returnsThePermitsAtOnce_andALeftRunIsInterruptedWhenTheLeaseRunsOut() async throws {
        try await ClusterFixture.with { cluster in
            let leaving = try await cluster.open("leaving", lease: Self.longLease, permits: 2)
            let run = PublishedRun(id: newRunID())
            try await cluster.running([leaving]) {
                let granted = try await leaving.acquirePermit(runID: run.record.id)
                #expect(granted)
                run.launch(on: leaving)
                await leaving.flush()
            }
            // Stopped with a run it could not end (as one stuck past the shutdown grace).
            #expect(try cluster.database.sql("SELECT count(*) FROM run_permits WHERE owner IS NOT NULL") == "0")
            #expect(try cluster.database.sql("SELECT status FROM runs WHERE id = '\(run.record.id)'") == "running")
            try cluster.expireLease(of: leaving)
            let survivor = try await cluster.open("b", lease: Self.shortLease, renewal: Self.often, permits: 2)
            try await cluster.running([survivor]) {
                try await waitFor { try await survivor.record(id: run.record.id)?.status == .interrupted }
                try await waitFor { survivor.clusterStatistics.runsReaped == 1 }
                #expect(survivor.clusterStatistics.instancesReaped == 1)
            }
        }
    }
}
