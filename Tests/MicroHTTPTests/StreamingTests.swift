@testable import MicroHTTP
import Synchronization
import Testing
import TestSupport

@Suite("Streaming responses")
struct StreamingTests {
    @Test func stream_deliversEachChunkBeforeTheNextIsProduced() async throws {
        let mayProduceSecond = Gate()
        let handler = TestHandler(async: { _ in
            .stream(contentType: "text/event-stream") { writer in
                try? await writer.write("data: one\n\n")
                // The test opens this only after it has read chunk one: had the server held
                // chunk one back until the stream ended, the test would time out here.
                guard await mayProduceSecond.wait() else { return }
                try? await writer.write("data: two\n\n")
            }
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try await client.readHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream")
            #expect(head.header("X-Request-Id") != nil)
            #expect(try await client.readChunk().map(text) == "data: one\n\n")
            mayProduceSecond.open()
            #expect(try await client.readChunk().map(text) == "data: two\n\n")
            #expect(try await client.readChunk() == nil)
            // The stream ended cleanly and the connection is reusable.
            #expect(try await client.request("GET", "/after").status == 200)
        }
    }

    @Test func idleStream_sleeps_readerIsCalledOnlyPerWrite() async throws {
        let writes = 3
        let writerBox = Mailbox<StreamWriter>()
        let gates = (0..<writes).map { _ in Gate() }
        let handler = TestHandler(
            immediate: { request in request.path == "/ping" ? .text("pong") : nil },
            async: { _ in
                .stream(contentType: "text/plain") { writer in
                    writerBox.put(writer)
                    for gate in gates {
                        guard await gate.wait() else { return }
                        try? await writer.write("tick\n")
                    }
                }
            }
        )
        try await withServer({ $0.threadPoolSize = 1 }, handler: handler) { server in
            let streamClient = try HTTPTestClient(port: server.port)
            try await streamClient.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await streamClient.readHead()
            let writer = await writerBox.take()
            for gate in gates {
                // While the stream idles, keep its (single) MHD thread busy with other traffic:
                // 50 wake-ups of the same event loop. A reader that returned 0 without
                // suspending would be called on each of them, and far more often in between.
                let other = try HTTPTestClient(port: server.port)
                for _ in 0..<50 { #expect(try await other.request("GET", "/ping").text == "pong") }
                gate.open()
                #expect(try await streamClient.readChunk().map(text) == "tick\n")
            }
            #expect(try await streamClient.readChunk() == nil)
            // Per write: one call that returns the bytes and one that finds the buffer empty
            // and suspends; plus the first call and the final end-of-stream call.
            #expect(writer.readerCalls <= 2 * writes + 2)
        }
    }

    @Test func clientLeaving_closesTheWriter_andStopsTheProducer() async throws {
        let producerEnded = Mailbox<Int>()
        let firstChunkSent = Gate()
        let handler = TestHandler(async: { _ in
            .stream(contentType: "text/plain") { writer in
                var writes = 0
                do {
                    try await writer.write("first\n")
                    firstChunkSent.open()
                    // Heartbeats: the only way a suspended connection learns its client left.
                    while writes < 1_000_000 {
                        try await writer.write(Array(repeating: UInt8(ascii: "."), count: 1024))
                        writes += 1
                    }
                } catch {
                    #expect(writer.isClosed)
                }
                producerEnded.put(writes)
            }
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await client.readHead()
            _ = await firstChunkSent.wait()
            client.close()
            let writes = await producerEnded.take()
            #expect(writes < 1_000_000, "the producer stopped because writes failed, not by running out")
            await waitUntil { server.stats.openStreams == 0 }
        }
    }

    @Test func slowClient_backPressureBoundsTheBuffer_andEveryByteArrives() async throws {
        let chunk = [UInt8](repeating: 7, count: 16 * 1024)
        let chunks = 256
        let largestBuffered = Mailbox<Int>()
        let handler = TestHandler(async: { _ in
            .stream(contentType: "application/octet-stream") { writer in
                var largest = 0
                for index in 0..<chunks {
                    var bytes = chunk
                    bytes[0] = UInt8(truncatingIfNeeded: index)
                    guard (try? await writer.write(bytes)) != nil else { break }
                    largest = max(largest, writer.state.withLock { $0.buffered })
                }
                largestBuffered.put(largest)
            }
        })
        try await withServer({ $0.streamHighWaterMark = 64 * 1024 }, handler: handler) { server in
            // A hang guard, not a speed bound: 4 MiB in 16 KiB hand-offs can take seconds on a busy machine.
            let client = try HTTPTestClient(port: server.port, timeout: .seconds(120))
            let response = try await client.request("GET", "/download")
            #expect(response.body.count == chunk.count * chunks)
            let firstBytes = stride(from: 0, to: response.body.count, by: chunk.count).map { response.body[$0] }
            #expect(firstBytes == (0..<chunks).map { UInt8(truncatingIfNeeded: $0) })
            // 4 MiB went through a 64 KiB buffer: every write waited for the client.
            #expect(await largestBuffered.take() <= 64 * 1024)
        }
    }

    @Test func streamFromTheFastPath_isServedWithoutSuspendingForAHandler() async throws {
        let handler = TestHandler(immediate: { _ in
            .stream(contentType: "text/plain") { writer in
                for word in ["a", "b", "c"] { try? await writer.write(word) }
            }
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            let response = try await client.request("GET", "/words")
            #expect(response.header("Transfer-Encoding") == "chunked")
            #expect(response.text == "abc")
            #expect(try await client.request("GET", "/again").text == "abc")
        }
    }

    /// One counter: the limit refuses the stream when it is admitted, and `streamRefusal()`
    /// (what a handler asks before committing) reads the same count; both refusals are
    /// rendered by the configured hook and counted once each.
    @Test func streamLimit_refusesWith503_renderedByTheHook() async throws {
        let release = Gate()
        let handler = TestHandler(async: { _ in
            .stream(contentType: "text/plain") { writer in
                try? await writer.write("open\n")
                _ = await release.wait()
            }
        })
        try await withServer({ configuration in
            configuration.maxStreams = 1
            configuration.refusalBody = { refusal, path in
                RefusalBody(contentType: "application/x-test", bytes: Array("\(refusal) \(path ?? "-")".utf8))
            }
        }, handler: handler) { server in
            #expect(server.streamRefusal() == nil)
            let holder = try HTTPTestClient(port: server.port)
            try await holder.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await holder.readHead()
            let refused = try await HTTPTestClient(port: server.port).request("GET", "/b")
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Content-Type") == "application/x-test")
            #expect(refused.text == "tooManyStreams(limit: 1) /b")
            #expect(server.stats.streamRejections == 1)
            #expect(server.streamRefusal() == .tooManyStreams(limit: 1))
            #expect(server.stats.streamRejections == 2)
            release.open()
            #expect(try await holder.readChunk().map(text) == "open\n")
            #expect(try await holder.readChunk() == nil)
            await waitUntil { server.stats.openStreams == 0 }
            #expect(server.streamRefusal() == nil)
        }
    }

    @Test func attachedStream_isWrittenAndEndedByItsOwner_whoHearsOnlyWhenItsClientLeaves() async throws {
        // Stream 1 through the immediate path, stream 2 through an async handler: both hand the
        // writer to an owner (this test), and no task waits for either.
        let writers = Mutex<[Int: StreamWriter]>([:])
        let heard = Mutex<[Int]>([])
        let ended = Mutex<[Int]>([])
        @Sendable func attached(_ index: Int) -> Response {
            .attachedStream(contentType: "text/plain") { writer in
                writer.detach { heard.withLock { $0.append(index) } }
                writer.whenEnded { ended.withLock { $0.append(index) } }
                writers.withLock { $0[index] = writer }
            }
        }
        let handler = TestHandler(
            immediate: { request in request.path == "/one" ? attached(1) : nil },
            async: { _ in attached(2) })
        try await withServer(handler: handler) { server in
            let first = try HTTPTestClient(port: server.port)
            try await first.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await first.readHead()
            let one = try #require(writers.withLock { $0[1] })
            #expect(one.offer(Array("a\n".utf8)) == .written)
            #expect(try await first.readChunk().map(text) == "a\n")
            one.finish()
            #expect(try await first.readChunk() == nil)
            #expect(ended.withLock { $0 } == [1])

            let second = try HTTPTestClient(port: server.port)
            try await second.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await second.readHead()
            await waitUntil { writers.withLock { $0[2] } != nil }
            let two = try #require(writers.withLock { $0[2] })
            #expect(two.offer(Array("b\n".utf8)) == .written)
            #expect(try await second.readChunk().map(text) == "b\n")
            second.close()
            // A suspended connection learns that its client left at its next write.
            await waitUntil { two.offer(Array(":\n".utf8)) == .closed }
            await waitUntil { heard.withLock { $0 } == [2] }
            #expect(heard.withLock { $0 } == [2], "the owner of the stream it ended itself is not told")
            #expect(ended.withLock { $0 } == [1, 2])
            await waitUntil { server.stats.openStreams == 0 }
            #expect(server.stats.openStreams == 0)
        }
    }

    /// The client leaves while the async handler still works (its connection suspended, so
    /// unwatched): the stream it answers with is queued all the same, and like any stream whose
    /// client left, is ended at its next write: its owner told, its writer closed (which lets go
    /// of the owner's handlers), its slot freed.
    @Test func streamAnsweredAfterItsClientLeft_endsAtItsFirstWrite() async throws {
        let gate = Mailbox<Void>()
        let writer = Mailbox<StreamWriter>()
        let heard = Mutex(0)
        let handler = TestHandler(async: { _ in
            await gate.take()
            return .attachedStream(contentType: "text/event-stream") { stream in
                stream.detach { heard.withLock { $0 += 1 } }
                writer.put(stream)
            }
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            await waitUntil { server.stats.requestsInFlight == 1 }
            client.close()
            gate.put(())
            let stream = await writer.take()
            await waitUntil { stream.offer(Array(": ping\n\n".utf8)) == .closed }
            await waitUntil { heard.withLock { $0 } == 1 }
            await waitUntil { server.stats.openStreams == 0 }
        }
    }

    @Test func attachedStream_atShutdown_itsOwnerIsTold_andMayWriteALastFrame() async throws {
        let writer = Mailbox<StreamWriter>()
        let handler = TestHandler(async: { _ in
            .attachedStream(contentType: "text/event-stream") { stream in
                stream.detach {
                    _ = stream.offer(Array("event: bye\n\n".utf8), force: true)
                    stream.finish()
                }
                writer.put(stream)
            }
        })
        try await withServer(handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            try await client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await client.readHead()
            #expect(await writer.take().offer(Array("data: hello\n\n".utf8)) == .written)
            #expect(try await client.readChunk().map(text) == "data: hello\n\n")
            // Shut down here (withServer's own shutdown afterwards finds nothing to do).
            await server.shutdown(deadline: .seconds(10))
            #expect(try await client.readChunk().map(text) == "event: bye\n\n")
            #expect(try await client.readChunk() == nil)
            #expect(server.stats.openStreams == 0)
        }
    }

    /// A frame queued into an empty buffer is taken as it is: two streams given the same frame
    /// hold the frame's own bytes, not copies. A second frame queued behind it copies the first
    /// into the stream's own buffer, leaving the shared frame and the other stream as they were.
    /// Drained, a stream holds no buffer at all (an idle subscriber costs no room for frames,
    /// and a backlog's room is given back at once), and lets go of the shared frame.
    @Test func framesAreTakenWithoutACopy_andADrainedStreamHoldsNoBuffer() {
        var (first, second) = (StreamWriter.State(), StreamWriter.State())
        var frame: [UInt8] = Array("data: shared\n\n".utf8)
        let frameAddress = frame.withUnsafeBytes { $0.baseAddress }
        first.enqueue(frame)
        second.enqueue(frame)
        #expect(first.buffer.withUnsafeBytes { $0.baseAddress } == frameAddress)
        #expect(second.buffer.withUnsafeBytes { $0.baseAddress } == frameAddress)
        first.enqueue(Array("data: next\n\n".utf8))
        #expect(first.buffer.withUnsafeBytes { $0.baseAddress } != frameAddress)
        #expect(frame == Array("data: shared\n\n".utf8))
        #expect(second.buffer == frame)
        #expect(first.bytesWritten == 26 && second.bytesWritten == 14)

        func drain(_ state: inout StreamWriter.State) -> [UInt8] {
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 5)
            chunk.withUnsafeMutableBytes { destination in
                while state.buffered > 0 {
                    let count = state.copyOut(into: destination.baseAddress!, capacity: destination.count)
                    out.append(contentsOf: destination.prefix(count))
                }
            }
            return out
        }
        #expect(text(drain(&first)) == "data: shared\n\ndata: next\n\n")
        #expect(text(drain(&second)) == "data: shared\n\n")
        #expect(first.buffer.capacity == 0 && second.buffer.capacity == 0)
        // Nothing holds the frame now: a write to it happens in place, with no copy first.
        frame[0] = UInt8(ascii: "D")
        #expect(frame.withUnsafeBytes { $0.baseAddress } == frameAddress)
    }
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Polls a condition the server reaches on its own threads (a counter it lowers after the
/// response is released); bounded, so a broken server fails the test instead of hanging it.
func waitUntil(_ condition: () -> Bool) async {
    for _ in 0..<2000 where !condition() {
        try? await Task.sleep(for: .milliseconds(5))
    }
    #expect(condition())
}
