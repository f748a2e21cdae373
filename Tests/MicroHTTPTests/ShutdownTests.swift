import MicroHTTP
import Testing
import TestSupport

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test func shutdown_endsStreamsWithAFinalFrame_letsHandlersFinish_andRefusesNewWork() async throws {
        let producerCancelled = Gate()
        let slowEntered = EventCounter()
        let slowRelease = Gate()
        let handler = TestHandler(
            immediate: { request in request.path == "/fast" ? .text("fast") : nil },
            async: { request in
                if request.path == "/slow" {
                    slowEntered.increment()
                    return await slowRelease.wait() ? .text("slow done") : .text("slow cancelled")
                }
                return .stream(contentType: "text/event-stream") { writer in
                    try? await writer.write("data: hello\n\n")
                    _ = await Gate().wait()  // parks until shutdown cancels the producer
                    producerCancelled.open()
                    try? await writer.write("event: bye\n\n")
                }
            }
        )
        var configuration = ServerConfiguration()
        configuration.threadPoolSize = 2
        configuration.logger.logLevel = .warning
        let server = Server(configuration: configuration, handler: handler)
        try server.start()
        let port = server.port

        let streamClient = try HTTPTestClient(port: port)
        try await streamClient.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await streamClient.readHead()
        #expect(try await streamClient.readChunk().map(text) == "data: hello\n\n")
        let slowClient = try HTTPTestClient(port: port)
        async let slowResponse = slowClient.request("GET", "/slow")
        await slowEntered.wait(untilAtLeast: 1)
        let idleClient = try HTTPTestClient(port: port)
        #expect(try await idleClient.request("GET", "/fast").status == 200)

        let shutdown = Task { await server.shutdown(deadline: .seconds(10)) }
        _ = await producerCancelled.wait()  // admission is closed before producers are cancelled
        #expect(server.isDraining)

        let refused = try await idleClient.request("GET", "/fast")
        #expect(refused.status == 503)
        #expect(refused.closesConnection)
        #expect(refused.header("X-Request-Id") != nil)
        #expect(throws: HTTPTestError.self) { try HTTPTestClient(port: port) }

        #expect(try await streamClient.readChunk().map(text) == "event: bye\n\n")
        #expect(try await streamClient.readChunk() == nil)
        slowRelease.open()
        #expect(try await slowResponse.text == "slow done")
        await shutdown.value
        #expect(server.stats.requestsInFlight == 0)
        #expect(server.stats.openStreams == 0)
    }

    @Test func shutdown_pastTheDeadline_closesStubbornStreams_andAnswers503ToStubbornHandlers() async throws {
        let handlerRelease = Mailbox<Bool>()
        let producerRelease = Mailbox<Bool>()
        let handlerEntered = EventCounter()
        let handler = TestHandler(async: { request in
            if request.path == "/stuck" {
                handlerEntered.increment()
                _ = await handlerRelease.take()  // ignores cancellation
                return .text("too late")
            }
            return .stream(contentType: "text/plain") { writer in
                try? await writer.write("open\n")
                _ = await producerRelease.take()  // ignores cancellation
                try? await writer.write("too late\n")
            }
        })
        var configuration = ServerConfiguration()
        configuration.threadPoolSize = 2
        configuration.shutdownGrace = .milliseconds(100)
        configuration.logger.logLevel = .error
        let server = Server(configuration: configuration, handler: handler)
        try server.start()

        let streamClient = try HTTPTestClient(port: server.port)
        try await streamClient.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await streamClient.readHead()
        #expect(try await streamClient.readChunk().map(text) == "open\n")
        let stuckClient = try HTTPTestClient(port: server.port)
        async let stuckResponse = stuckClient.request("GET", "/stuck")
        await handlerEntered.wait(untilAtLeast: 1)

        // Returns although neither the handler nor the producer ever cooperates: the process
        // is still here afterwards, so libmicrohttpd was not stopped with a suspended connection.
        await server.shutdown(deadline: .milliseconds(300))
        let stuck = try await stuckResponse
        #expect(stuck.status == 503)
        #expect(stuck.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(try await streamClient.readChunk() == nil)

        handlerRelease.put(true)
        producerRelease.put(true)
    }

    @Test func shutdown_calledTwiceAtOnceAndAgainAfter_isSafe() async throws {
        let server = Server(handler: TestHandler())
        await server.shutdown(deadline: .seconds(1))  // never started: nothing to do
        let started = Server(handler: TestHandler())
        try started.start()
        #expect(try await HTTPTestClient(port: started.port).request("GET", "/").status == 200)
        async let first: Void = started.shutdown(deadline: .seconds(2))
        async let second: Void = started.shutdown(deadline: .seconds(2))
        _ = await (first, second)
        await started.shutdown(deadline: .seconds(2))
        #expect(throws: HTTPTestError.self) { try HTTPTestClient(port: started.port) }
        #expect(throws: ServerError.alreadyStarted) { try started.start() }
    }
}
