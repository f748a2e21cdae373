import Foundation
import PostgresStore
import Runs
import Testing
import TestSupport

/// Two instances on one database: what one publishes the other follows, byte for byte; cancel
/// requests reach the owner; a run another instance ended is not brought back by its owner.
@Suite(.timeLimit(.minutes(2))) struct PostgresClusterTests {
    @Test func follower_replaysThenFollowsLive_withTheOwnersBytes() async throws {
        try await ClusterFixture.with { cluster in
            let owner = try await cluster.open("a")
            let other = try await cluster.open("b")
            try await cluster.running([owner, other]) {
                let run = PublishedRun(id: newRunID())
                run.launch(on: owner)
                for index in 1...3 { run.tick(index) }
                await owner.waitUntilVisible(runID: run.record.id)
                // Visible on the other instance as soon as the launch answers.
                #expect(try await other.record(id: run.record.id)?.status == .running)

                let followed = try await other.follow(runID: run.record.id)
                async let delivered = collect(followed)
                for index in 4...9 { run.tick(index) }
                run.finish(on: owner)
                let events = await delivered
                #expect(events == run.log.allEvents)  // ids, names and data bytes
                #expect(events.last?.name == "run.finished")
                #expect(try await other.record(id: run.record.id)?.status == .succeeded)
                #expect(try await other.events(runID: run.record.id) == run.log.allEvents)
            }
        }
    }

    @Test func followersOfOneRun_shareOneLog_fedByOneQueryPerNotification() async throws {
        try await ClusterFixture.with { cluster in
            let owner = try await cluster.open("a")
            let other = try await cluster.open("b")
            try await cluster.running([owner, other]) {
                let run = PublishedRun(id: newRunID())
                run.launch(on: owner)
                await owner.waitUntilVisible(runID: run.record.id)
                let followers = try await withThrowingTaskGroup(of: EventLog.self) { group in
                    for _ in 0..<20 { group.addTask { try await other.follow(runID: run.record.id) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(followers.allSatisfy { $0 === followers[0] })
                // The next subscribers take the same log at once, without a query.
                let fetches = other.clusterStatistics.mirrorFetches
                #expect(other.followed(runID: run.record.id) === followers[0])
                #expect(other.clusterStatistics.mirrorFetches == fetches)
                #expect(other.followed(runID: newRunID()) == nil)
                #expect(owner.followed(runID: run.record.id) == nil)  // its owner streams from memory
                async let delivered = collect(followers[0])
                for index in 1...30 {
                    run.tick(index)
                    if index.isMultiple(of: 10) { await owner.flush() }
                }
                run.finish(on: owner)
                #expect(await delivered == run.log.allEvents)
                let statistics = other.clusterStatistics
                // One fetch per notification at most (plus the first fill), however many follow.
                #expect(statistics.mirrorFetches <= statistics.notificationsReceived + 1)
                #expect(statistics.notificationsReceived >= 1)
            }
        }
    }

    @Test func cancelRequest_reachesTheOwner() async throws {
        try await ClusterFixture.with { cluster in
            let owner = try await cluster.open("a")
            let other = try await cluster.open("b")
            try await cluster.running([owner, other]) {
                let run = PublishedRun(id: newRunID())
                run.launch(on: owner)
                await owner.waitUntilVisible(runID: run.record.id)
                async let requested = owner.cancelRequests.first { _ in true }
                try await other.requestCancel(runID: run.record.id)
                #expect(await requested == run.record.id)
            }
        }
    }

    @Test func restartedInstance_interruptsItsPredecessorsRuns_afterTheirLastEvent() async throws {
        try await ClusterFixture.with { cluster in
            let crashed = try await cluster.open("a")
            let other = try await cluster.open("b")
            let run = PublishedRun(id: newRunID())
            try await cluster.running([crashed, other]) {
                run.launch(on: crashed)
                for index in 1...3 { run.tick(index) }
                await crashed.waitUntilVisible(runID: run.record.id)
                try await waitFor { try await other.record(id: run.record.id)?.progress.completed == 3 }
            }
            // `crashed` never saved the end. Its successor under the same name takes over.
            let restarted = try await cluster.open("a")
            let bystander = try await cluster.open("c")
            #expect(try await bystander.markInterrupted(at: Date()) == 0)  // not its runs
            #expect(try await restarted.markInterrupted(at: Date(), links: .none) == 1)
            try await cluster.running([restarted]) {
                let record = try #require(try await restarted.record(id: run.record.id))
                #expect(record.status == .interrupted)
                let events = try #require(try await restarted.events(runID: run.record.id))
                #expect(events.map(\.id) == [1, 2, 3, 4])
                #expect(events.map(\.name) == ["tick", "tick", "tick", "run.finished"])
                #expect(Array(events.prefix(3)) == run.log.allEvents)
            }
        }
    }

    @Test func lateSaveOfARunAnotherInstanceEnded_isRefused() async throws {
        try await ClusterFixture.with { cluster in
            let paused = try await cluster.open("a")
            let run = PublishedRun(id: newRunID())
            try await cluster.running([paused]) {
                run.launch(on: paused)
                await paused.flush()
                let successor = try await cluster.open("a")
                #expect(try await successor.markInterrupted(at: Date()) == 1)
                // The paused owner comes back and saves the end it reached.
                run.finish(on: paused)
                await paused.flush()
                #expect(paused.isHealthy)
                #expect(paused.clusterStatistics.lostRuns == 1)
                #expect(try await paused.record(id: run.record.id)?.status == .interrupted)
                #expect(try await paused.events(runID: run.record.id)?.map(\.name) == ["run.finished"])
            }
        }
    }
}

/// Waits (bounded) until `condition` holds: for what another instance sees through the database.
func waitFor(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestPostgres.CommandFailed(description: "condition not met within 10 s")
}
