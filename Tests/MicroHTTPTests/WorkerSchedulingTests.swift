@testable import MicroHTTP
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The worker threads' scheduling policy is read where it applies: by a handler answering
/// now, which runs on the libmicrohttpd worker that serves the request.
@Suite("WorkerScheduling: libmicrohttpd's workers run under the policy asked, the starting thread keeps its own")
struct WorkerSchedulingTests {
    private static let reportsPolicy = TestHandler(immediate: { _ in .text("\(sched_getscheduler(0))") })

    /// The policy a worker reports, from a server started on this thread with `scheduling`;
    /// `starter` is the starting thread's policy read right after `start` (no suspension
    /// between the two, so it is the same thread).
    private func policies(_ scheduling: WorkerScheduling) async throws -> (worker: String, starter: Int32) {
        var configuration = ServerConfiguration()
        configuration.threadPoolSize = 2
        configuration.logger.logLevel = .warning
        configuration.workerScheduling = scheduling
        let server = Server(configuration: configuration, handler: Self.reportsPolicy)
        try server.start()
        let starter = sched_getscheduler(0)
        // Both workers: two connections are spread over the pool by descriptor.
        var answers: Set<String> = []
        var clients: [HTTPTestClient] = []
        for _ in 0..<4 {
            let client = try HTTPTestClient(port: server.port)
            clients.append(client)
            answers.insert(try await client.request("GET", "/").text)
        }
        await server.shutdown(deadline: .seconds(5))
        #expect(answers.count == 1, "the workers disagree: \(answers)")
        return (answers.first ?? "", starter)
    }

    @Test func batch_reachesTheWorkers_notTheStartingThread() async throws {
        let before = sched_getscheduler(0)
        try #require(before == SCHED_OTHER)
        let seen = try await policies(.batch)
        #expect(seen.worker == "\(WorkerScheduling.schedBatch)")
        #expect(seen.starter == before)
    }

    @Test func inherit_isTheDefault_andLeavesTheWorkersTheStartingThreadsPolicy() async throws {
        #expect(ServerConfiguration().workerScheduling == .inherit)
        let seen = try await policies(.inherit)
        #expect(seen.worker == "\(SCHED_OTHER)")
        #expect(seen.starter == SCHED_OTHER)
    }

    /// A process started under another policy keeps it: here the starting thread runs under
    /// SCHED_BATCH itself (as under `chrt -b`), and `inherit` hands that on to the workers.
    @Test func inherit_handsOnAPolicyTheProcessWasStartedWith() async throws {
        var parameters = sched_param(sched_priority: 0)
        // Set, started and restored with no suspension in between: all on this thread.
        try #require(sched_setscheduler(0, WorkerScheduling.schedBatch, &parameters) == 0)
        var configuration = ServerConfiguration()
        configuration.threadPoolSize = 2
        configuration.logger.logLevel = .warning
        let server = Server(configuration: configuration, handler: Self.reportsPolicy)
        let started = Result<Void, ServerError>(catching: { () throws(ServerError) in try server.start() })
        let starter = sched_getscheduler(0)
        var restored = sched_param(sched_priority: 0)
        try #require(sched_setscheduler(0, SCHED_OTHER, &restored) == 0)
        try started.get()
        let worker: String
        do {
            let client = try HTTPTestClient(port: server.port)
            worker = try await client.request("GET", "/").text
        } catch {
            await server.shutdown(deadline: .seconds(5))
            throw error
        }
        await server.shutdown(deadline: .seconds(5))
        #expect(worker == "\(WorkerScheduling.schedBatch)")
        #expect(starter == WorkerScheduling.schedBatch)
    }
}
