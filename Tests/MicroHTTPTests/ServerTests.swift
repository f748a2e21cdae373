import MicroHTTP
import Testing
import TestSupport

@Suite("Server: requests over real HTTP")
struct ServerTests {
    /// Echoes where the request came from, so a test can tell two connections apart.
    private static let echoRemote = TestHandler(
        immediate: { request in request.path == "/fast" ? .text(request.remoteAddress ?? "?") : nil },
        async: { request in .text(request.remoteAddress ?? "?") }
    )

    @Test func keepAlive_servesFastAndAsyncRequestsOnOneConnection() async throws {
        try await withServer(handler: Self.echoRemote) { server in
            let client = try HTTPTestClient(port: server.port)
            let first = try await client.request("GET", "/fast")
            let second = try await client.request("GET", "/slow")
            let third = try await client.request("GET", "/fast")
            for response in [first, second, third] {
                #expect(response.status == 200)
                #expect(!response.closesConnection)
            }
            // Same client address and port: the server saw one TCP connection throughout.
            #expect(first.text == second.text)
            #expect(second.text == third.text)
            #expect(first.text.hasPrefix("127.0.0.1:"))
        }
    }

    @Test func largeUpload_arrivingInManySmallWrites_reachesHandlerIntact() async throws {
        let body = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let handler = TestHandler(async: { request in .text("\(request.body.count) \(checksum(request.body))") })
        try await withServer({ $0.maxBodyBytes = 2_000_000 }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
            for start in stride(from: 0, to: body.count, by: 4096) {
                try await client.send(Array(body[start..<min(start + 4096, body.count)]))
            }
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "\(body.count) \(checksum(body))")
        }
    }

    /// Bodies from 64 KiB up are lent to libmicrohttpd, not copied: each answer must still be
    /// the bytes the handler gave, however many connections read the same array at once, and
    /// the array must be let go once the responses are done with it.
    @Test func largeBodies_lentToLibmicrohttpd_arriveIntact_andAreLetGo() async throws {
        let sizes = [64 * 1_024 - 1, 64 * 1_024, 1_500_000]
        let boxes = sizes.map { size in BodyBox((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }) }
        let expected = boxes.map(\.bytes)
        let addresses = boxes.map { $0.bytes.withUnsafeBytes { $0.baseAddress } }
        let handler = TestHandler(
            immediate: { request in
                request.path.hasPrefix("/now/") ? Response(body: .bytes(boxes[Int(request.path.dropFirst(5))!].bytes)) : nil
            },
            async: { request in Response(body: .bytes(boxes[Int(request.path.dropFirst(7))!].bytes)) })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            for (index, body) in expected.enumerated() {
                for path in ["/now/\(index)", "/later/\(index)", "/now/\(index)"] {
                    let response = try await client.request("GET", path)
                    #expect(response.status == 200)
                    #expect(response.body.count == body.count && response.body == body, "\(path)")
                }
            }
            let requests = (0..<24).map { ConcurrentHTTPRequests.get("/later/\($0 % 3)") }
            let responses = try await ConcurrentHTTPRequests.send(requests, port: server.port)
            for (index, response) in responses.enumerated() {
                #expect(response.body == expected[index % 3], "concurrent request \(index)")
            }
        }
        // The server is gone. `expected` shares each array: let it go, then each box should
        // be the only owner left, so a write happens in place, with no copy first. A response
        // that still held its array (the release callback never ran) would force the copy.
        _ = consume expected
        for (index, box) in boxes.enumerated() {
            box.bytes[0] ^= 0xff
            #expect(box.bytes.withUnsafeBytes { $0.baseAddress } == addresses[index], "body \(index) still held")
        }
    }

    @Test func chunkedUpload_isReassembled() async throws {
        let handler = TestHandler(async: { request in .text(String(decoding: request.body, as: UTF8.self)) })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in ["hello", ", ", "chunked", " world"] {
                try await client.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n")
            }
            try await client.send("0\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.text == "hello, chunked world")
        }
    }

    @Test func concurrentSlowRequests_eachGetTheirOwnAnswer() async throws {
        let count = 200
        let arrived = EventCounter()
        let allArrived = Gate()
        let handler = TestHandler(async: { request in
            arrived.increment()
            // Nobody leaves before all 200 are in: only true concurrency gets past this.
            _ = await allArrived.wait()
            return .text("answer for \(request.path)")
        })
        try await withServer(handler: handler) { server in
            let opener = Task {
                await arrived.wait(untilAtLeast: count)
                allArrived.open()
            }
            let requests = (0..<count).map { ConcurrentHTTPRequests.get("/item/\($0)") }
            let responses = try await ConcurrentHTTPRequests.send(requests, port: server.port)
            await opener.value
            #expect(responses.count == count)
            for (index, response) in responses.enumerated() {
                #expect(response.status == 200)
                #expect(response.text == "answer for /item/\(index)")
            }
            #expect(server.stats.requestsInFlight == 0)
        }
    }

    @Test func rawPathAndQuery_reachHandlerUndecoded() async throws {
        let handler = TestHandler(immediate: { request in
            .text("\(request.method)|\(request.path)|\(request.query)|\(request.header("x-CUSTOM") ?? "-")")
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            let response = try await client.request("GET", "/a%2Fb/c%20d?x=1+2&y=%41", headers: [("X-Custom", "v")])
            #expect(response.text == "GET|/a%2Fb/c%20d|x=1+2&y=%41|v")
            let bare = try await client.request("DELETE", "/plain")
            #expect(bare.text == "DELETE|/plain||-")
        }
    }

    @Test func fastPath_answersWithoutRunningTheAsyncHandler() async throws {
        let asyncCalls = EventCounter()
        let handler = TestHandler(
            immediate: { request in request.path == "/healthz" ? .json(bytes: Array(#"{"status":"ok"}"#.utf8)) : nil },
            async: { _ in asyncCalls.increment(); return .text("async") }
        )
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            let health = try await client.request("GET", "/healthz")
            #expect(health.status == 200)
            #expect(health.header("Content-Type") == "application/json")
            #expect(health.text == #"{"status":"ok"}"#)
            #expect(asyncCalls.count == 0)
            #expect(try await client.request("GET", "/other").text == "async")
            #expect(asyncCalls.count == 1)
        }
    }

    @Test func requestIDs_areEchoedWhenSaneAndGeneratedOtherwise() async throws {
        let handler = TestHandler(async: { request in .text(request.id) })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            let echoed = try await client.request("GET", "/", headers: [("X-Request-Id", "client-id-42")])
            #expect(echoed.header("X-Request-Id") == "client-id-42")
            #expect(echoed.text == "client-id-42")

            let first = try await client.request("GET", "/")
            let second = try await client.request("GET", "/")
            let generated = [first, second].compactMap { $0.header("X-Request-Id") }
            #expect(generated.count == 2)
            #expect(Set(generated).count == 2)
            #expect(first.text == generated[0])

            let tooLong = String(repeating: "a", count: 129)
            for insane in [tooLong, "has space", "tab\there"] {
                let response = try await client.request("GET", "/", headers: [("X-Request-Id", insane)])
                #expect(response.header("X-Request-Id") != insane)
                #expect(response.header("X-Request-Id")?.isEmpty == false)
            }
        }
    }
}

/// FNV-1a: any corruption, loss or reordering of the body changes it.
/// A body a handler reads and a test writes to afterwards, to tell whether anything else
/// still holds it. `@unchecked`: written only once the server has stopped.
final class BodyBox: @unchecked Sendable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}
