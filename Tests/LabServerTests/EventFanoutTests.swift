@testable import LabServer
import LabJSON
import Testing
import TestSupport

/// The fan-out's guarantees over real HTTP: every subscriber gets every event once and in order
/// whatever its pace, a stalled one catches up from the log without holding anything or slowing
/// anyone, a finished stream that has everything gets 204, and fan-outs do not outlive their
/// streams.
@Suite struct EventFanoutTests {
    private func launch(_ server: LabTestServer, _ params: JSONValue, pattern: String = "gather") async throws -> String {
        let response = try await server.request("POST", "/patterns/\(pattern)/runs", json: params)
        return try #require(response.json?["id"]?.stringValue)
    }

    @Test func aStalledSubscriber_catchesUpFromTheLog_andGetsEveryEventOnceInOrder() async throws {
        let configuration = LabTestServer.configuration {
            $0.server.streamHighWaterMark = 4_096
            // A fixed send buffer: the kernel's would grow to megabytes and could take the
            // whole run for a client that reads nothing (it did on CI's machine).
            $0.server.socketSendBufferBytes = 8_192
            $0.server.connectionTimeout = 60
        }
        try await LabTestServer.with(configuration) { server in
            let id = try await launch(server, ["count": 2_000, "delay_ms": 300])
            // This client reads nothing until the run has ended: its stream fills up (4 KiB of
            // receive buffer, 8 KiB of send buffer, 4 KiB high-water mark) and is skipped from
            // then on.
            let stalled = try HTTPTestClient(port: server.port, timeout: .seconds(30), receiveBufferBytes: 4_096)
            try await stalled.send("GET /runs/\(id)/events HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await stalled.readHead().status == 200)

            let live = try await server.events("/runs/\(id)/events").1.readAll()
            let ids = live.compactMap(\.id)
            #expect(ids == Array(1...ids.count))
            #expect(ids.count > 4_000)
            #expect(live.last?.event == "run.finished")

            // It was skipped: its stream refused offers while the others went on.
            #expect(server.lab.application.streams.fanouts.streamsSkipped.load(ordering: .relaxed) > 0)
            // Now it reads: everything, once, in order, from the log it was skipped over.
            let caughtUp = try await SSEReader(client: stalled).readAll()
            #expect(caughtUp.compactMap(\.id) == ids)
            #expect(caughtUp.last?.event == "run.finished")
        }
    }

    @Test func aFinishedRunsStream_fromItsLastEvent_is204_andFromEarlier_replays() async throws {
        try await LabTestServer.with { server in
            let run = try await server.runToEnd("gather", ["count": 2, "delay_ms": 1])
            let id = try #require(run["id"]?.stringValue)
            let all = try await server.events("/runs/\(id)/events").1.readAll().compactMap(\.id)
            let last = try #require(all.last)

            let done = try await server.request("GET", "/runs/\(id)/events", headers: [("Last-Event-ID", "\(last)")])
            #expect(done.status == 204)
            #expect(done.body.isEmpty)
            #expect(try await server.request("GET", "/runs/\(id)/events?after=\(last + 5)").status == 204)

            let (head, reader) = try await server.events("/runs/\(id)/events", headers: [("Last-Event-ID", "\(last - 1)")])
            #expect(head.status == 200)
            #expect(try await reader.readAll().compactMap(\.id) == [last])
        }
    }

    @Test func aLiveRunsStream_fromItsLastEvent_waitsForTheNextOne() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 1, "delay_ms": 60_000])
            let (_, first) = try await server.events("/runs/\(id)/events")
            var seen: [Int] = []
            while seen.count < 2, let frame = try await first.next() { if let id = frame.id { seen.append(id) } }
            // Resuming from the newest event of a live run is a stream, not a 204.
            let (head, resumed) = try await server.events("/runs/\(id)/events?after=\(seen.last ?? 0)")
            #expect(head.status == 200)
            _ = try await server.request("DELETE", "/runs/\(id)")
            let rest = try await resumed.readAll()
            #expect(rest.first?.id == (seen.last ?? 0) + 1)
            #expect(rest.last?.event == "run.finished")
        }
    }

    @Test func theFanoutEnds_whenItsLastStreamLeaves() async throws {
        try await LabTestServer.with { server in
            let fanouts = server.lab.application.streams.fanouts
            let id = try await launch(server, ["count": 1, "delay_ms": 60_000])
            let (_, a) = try await server.events("/runs/\(id)/events")
            let (_, b) = try await server.events("/runs/\(id)/events")
            _ = try await a.next()
            _ = try await b.next()
            #expect(fanouts.count == 1)
            _ = try await server.request("DELETE", "/runs/\(id)")
            _ = try await a.readAll()
            _ = try await b.readAll()
            try await waitUntil("the fan-out is gone") { fanouts.count == 0 }
            // A stream on the ended run replays through a new one, which ends with it too.
            #expect(try await server.events("/runs/\(id)/events").1.readAll().last?.event == "run.finished")
            try await waitUntil("the second fan-out is gone") { fanouts.count == 0 }
        }
    }

    /// A subscriber and its writer hold each other (its handlers on the writer capture it) until
    /// the writer closes: every way a stream ends must free it, or each stream leaks its ~20 KB.
    @Test func everyEndedStream_freesItsSubscriber() async throws {
        try await LabTestServer.with { server in
            let tally = server.lab.application.streams.fanouts.tally
            // Ticks every 20 ms: a stream's next write is how its server learns its client left.
            let id = try await launch(server, ["interval_ms": 20, "duration_ms": 60_000], pattern: "periodic")
            let (_, leaving) = try await server.events("/runs/\(id)/events")
            let (_, staying) = try await server.events("/runs/\(id)/events")
            _ = try await leaving.next()
            _ = try await staying.next()
            #expect(tally.alive.load(ordering: .relaxed) == 2)
            leaving.close()  // the client leaves a live run's stream
            try await waitUntil("the subscriber whose client left is freed") { tally.alive.load(ordering: .relaxed) == 1 }
            _ = try await server.request("DELETE", "/runs/\(id)")  // the fan-out ends the other
            #expect(try await staying.readAll().last?.event == "run.finished")
            try await waitUntil("the subscriber the fan-out ended is freed") { tally.alive.load(ordering: .relaxed) == 0 }
            // A replay of the ended run: a fan-out that ends its only stream at once.
            #expect(try await server.events("/runs/\(id)/events").1.readAll().last?.event == "run.finished")
            try await waitUntil("the replay's subscriber is freed") { tally.alive.load(ordering: .relaxed) == 0 }
        }
    }
}
