import MicroHTTP
import Synchronization
import Testing
import TestSupport

@Suite("Admission: permits, deadlines and size limits")
struct AdmissionTests {
    @Test func inFlightLimit_rejectsWith503AtOnce_whileAdmittedRequestsFinish() async throws {
        let entered = EventCounter()
        let release = Gate()
        let handler = TestHandler(async: { request in
            entered.increment()
            _ = await release.wait()
            return .text("done \(request.path)")
        })
        try await withServer({ $0.maxInFlight = 2 }, handler: handler) { server in
            let first = try HTTPTestClient(port: server.port)
            let second = try HTTPTestClient(port: server.port)
            async let firstResponse = first.request("GET", "/1")
            async let secondResponse = second.request("GET", "/2")
            await entered.wait(untilAtLeast: 2)

            // Both permits are held (the handlers wait on the gate): the third is refused now,
            // without waiting for them, and its handler never runs.
            let refused = try await HTTPTestClient(port: server.port).request("GET", "/3")
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(refused.header("X-Request-Id") != nil)
            #expect(refused.text == "503 Service Unavailable: The server is at its limit of concurrent requests; retry shortly.\n")
            #expect(entered.count == 2)
            #expect(server.stats.admissionRejections == 1)
            #expect(server.stats.requestsInFlight == 2)

            release.open()
            #expect(try await firstResponse.text == "done /1")
            #expect(try await secondResponse.text == "done /2")
            #expect(server.stats.requestsInFlight == 0)
        }
    }

    /// The deadline is kept by the configured `DeadlineTimers`: here a hand-driven one, so the
    /// test fires the deadline itself instead of waiting for it.
    @Test func theDeadline_isKeptByTheConfiguredTimers() async throws {
        let timers = HandDrivenTimers()
        let handler = TestHandler(async: { _ in
            _ = try? await Task.sleep(for: .seconds(60))
            return .text("late")
        })
        try await withServer({ $0.deadlineTimers = timers; $0.requestTimeout = .seconds(3_600) }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            try await waitUntil("the request's deadline is scheduled") { timers.scheduled == 1 }
            timers.fireAll()
            #expect(try await client.readResponse().status == 504)
            #expect(server.stats.requestTimeouts == 1)
        }
        try await withServer({ $0.deadlineTimers = timers }, handler: TestHandler(async: { _ in .text("ok") })) { server in
            let before = timers.cancelled
            let quick = try await HTTPTestClient(port: server.port).request("GET", "/quick")
            #expect(quick.text == "ok")
            #expect(timers.cancelled == before + 1)
        }
    }

    @Test func deadline_cancelsTheHandler_answers504_andDiscardsTheLateResult() async throws {
        let sawCancellation = Mailbox<Bool>()
        let handler = TestHandler(async: { request in
            guard request.path == "/slow" else { return .text("fresh") }
            let slept = (try? await Task.sleep(for: .seconds(60))) != nil
            sawCancellation.put(!slept && Task.isCancelled)
            return .text("late")
        })
        try await withServer({ $0.requestTimeout = .milliseconds(200) }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            let timedOut = try await client.request("GET", "/slow")
            #expect(timedOut.status == 504)
            #expect(timedOut.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(timedOut.text.hasPrefix("504 Gateway Timeout: The request did not complete within"))
            #expect(await sawCancellation.take())
            // The late "late" went nowhere: the connection's next answer is its own.
            let next = try await client.request("GET", "/next")
            #expect(next.text == "fresh")
            #expect(server.stats.requestTimeouts == 1)
        }
    }

    @Test func declaredBodyOverLimit_gets413_beforeTheBodyIsSent() async throws {
        let calls = EventCounter()
        let handler = TestHandler(async: { _ in calls.increment(); return .text("ran") })
        try await withServer({ $0.maxBodyBytes = 1024 }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            // Only the head: a server that waited for the body would time this read out.
            try await client.send("POST /upload HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-1\r\nContent-Length: 100000\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(response.header("X-Request-Id") == "big-1")
            #expect(await client.waitForClose())
            #expect(calls.count == 0)
        }
    }

    @Test func chunkedBodyGrowingPastLimit_gets413() async throws {
        let calls = EventCounter()
        let handler = TestHandler(async: { _ in calls.increment(); return .text("ran") })
        try await withServer({ $0.maxBodyBytes = 1024 }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let piece = String(repeating: "x", count: 600)
            for _ in 0..<3 { try await client.send("258\r\n" + piece + "\r\n") }
            try await client.send("0\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(calls.count == 0)
        }
    }

    @Test func overlongURL_gets414_andOverlongHeaders_get431() async throws {
        try await withServer({ $0.connectionMemoryLimit = 16 * 1024 }, handler: TestHandler()) { server in
            let longURL = "/" + String(repeating: "u", count: 20_000)
            let urlResponse = try await HTTPTestClient(port: server.port).request("GET", longURL)
            #expect(urlResponse.status == 414)

            let longHeader = [("X-Filler", String(repeating: "h", count: 20_000))]
            let headerResponse = try await HTTPTestClient(port: server.port).request("GET", "/", headers: longHeader)
            #expect(headerResponse.status == 431)

            // The server is still healthy afterwards.
            #expect(try await HTTPTestClient(port: server.port).request("GET", "/").status == 200)
        }
    }
}

/// Deadline timers that fire only when a test says so.
final class HandDrivenTimers: DeadlineTimers, @unchecked Sendable {
    private let state = Mutex<(actions: [UInt64: @Sendable () -> Void], next: UInt64, scheduled: Int, cancelled: Int)>(([:], 0, 0, 0))

    var scheduled: Int { state.withLock { $0.scheduled } }
    var cancelled: Int { state.withLock { $0.cancelled } }

    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> DeadlineToken {
        state.withLock { state in
            state.next += 1
            state.scheduled += 1
            state.actions[state.next] = action
            return .identifier(state.next)
        }
    }

    func cancel(_ token: DeadlineToken) {
        guard case .identifier(let id) = token else { return }
        state.withLock { state in
            if state.actions.removeValue(forKey: id) != nil { state.cancelled += 1 }
        }
    }

    func fireAll() {
        let actions = state.withLock { state in
            defer { state.actions = [:] }
            return Array(state.actions.values)
        }
        for action in actions { action() }
    }
}
