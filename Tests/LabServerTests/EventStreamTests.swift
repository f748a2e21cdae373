import Foundation
import LabJSON
import Patterns
import Testing
import TestSupport

@Suite struct EventStreamTests {
    private func launch(_ server: LabTestServer, _ params: JSONValue) async throws -> String {
        let response = try await server.request("POST", "/patterns/gather/runs", json: params)
        return try #require(response.json?["id"]?.stringValue)
    }

    @Test func aRunsFullStream_hasIncreasingIdsFromOne_andEndsWithRunFinished() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 5, "delay_ms": 20])
            let (head, reader) = try await server.events("/runs/\(id)/events")
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream; charset=utf-8")
            #expect(head.header("Cache-Control") == "no-cache")
            #expect(head.header("X-Accel-Buffering") == "no")
            #expect(head.header("Access-Control-Allow-Origin") == "*")
            let frames = try await reader.readAll()
            // `retry:` rides in the first event's block, not in a block of its own.
            #expect(frames.first?.retry == 2000)
            #expect(frames.first?.event == "run.started")
            #expect(frames.dropFirst().allSatisfy { $0.retry == nil })
            let events = frames.filter { $0.event != nil }
            #expect(events.compactMap(\.id) == Array(1...events.count))
            #expect(events.first?.event == "run.started")
            #expect(events.last?.event == "run.finished")
            #expect(events.filter { $0.event == "task.finished" }.count == 5)
            let finished = try JSONValue.parse(events.last?.data ?? "")
            #expect(finished["status"] == "succeeded")
            #expect(events.allSatisfy { $0.data.map { !$0.contains("\n") } ?? false })
        }
    }

    @Test func aStreamsConnectionEndsWithTheStream_aPlainAnswerKeepsItsConnection() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 2, "delay_ms": 5])
            let streamClient = try server.client()
            try await streamClient.send("GET /runs/\(id)/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            let head = try await streamClient.readHead()
            #expect(head.status == 200)
            #expect(head.header("Connection") == "close")
            // readAll returns at the stream's last chunk (a close before it would throw), and
            // then the server closes the connection.
            let events = try await SSEReader(client: streamClient).readAll().compactMap(\.event)
            #expect(events.last == "run.finished")
            #expect(await streamClient.waitForClose())

            // The finished run's `204` and a JSON answer keep theirs: one connection asks both.
            let client = try server.client()
            let ended = try await client.request("GET", "/runs/\(id)/events?after=\(events.count)")
            #expect(ended.status == 204)
            #expect(ended.header("Connection") == nil)
            #expect(try await client.request("GET", "/runs/\(id)").status == 200)
        }
    }

    @Test func reconnectingWithLastEventID_replaysExactlyTheEventsAfterIt() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 4, "delay_ms": 10])
            let all = try await server.events("/runs/\(id)/events").1.readAll().filter { $0.event != nil }
            let resumed = try await server.events("/runs/\(id)/events", headers: [("Last-Event-ID", "5")]).1.readAll()
            #expect(resumed.first?.retry == 2000)
            #expect(resumed.filter { $0.event != nil }.map(\.withoutRetry) == Array(all.dropFirst(5)).map(\.withoutRetry))
            let after = try await server.events("/runs/\(id)/events?after=\(all.count - 1)").1.readAll()
            #expect(after.compactMap(\.event) == ["run.finished"])
        }
    }

    @Test func launchAndStream_inOneRequest() async throws {
        try await LabTestServer.with { server in
            let client = try server.client()
            let body = #"{"count":3,"delay_ms":5}"#
            try await client.send(
                "POST /patterns/gather/runs HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let head = try await client.readHead()
            #expect(head.status == 201)
            #expect(head.header("Location")?.hasPrefix("/runs/") == true)
            let events = try await SSEReader(client: client).readAll().compactMap(\.event)
            #expect(events.first == "run.started")
            #expect(events.last == "run.finished")
        }
    }

    /// A virtual run has ended by the time anyone reads it; its stream, paced or not,
    /// delivers every event in order with the run's own times.
    @Test(arguments: ["", "?pace=0.01"])
    func virtualRunsStream_deliversEveryEventInOrder(query: String) async throws {
        try await LabTestServer.with { server in
            let params: JSONValue = ["count": 4, "limit": 2, "delay_ms": 100, "clock": "virtual"]
            let response = try await server.request("POST", "/patterns/semaphore/runs?wait=10", json: params)
            #expect(response.status == 200)
            let id = try #require(response.json?["id"]?.stringValue)
            let events = try await server.events("/runs/\(id)/events\(query)").1.readAll().filter { $0.event != nil }
            #expect(events.compactMap(\.id) == Array(1...events.count))
            let releases = events.filter { $0.event == "semaphore.released" }
            #expect(releases.compactMap { try? JSONValue.parse($0.data ?? "")["t_ms"] } == [100, 100, 200, 200])
            #expect(events.last?.event == "run.finished")
        }
    }

    @Test func launchAndStream_atAPace() async throws {
        try await LabTestServer.with { server in
            let client = try server.client()
            let body = #"{"count":3,"delay_ms":50,"clock":"virtual"}"#
            try await client.send(
                "POST /patterns/gather/runs?pace=0.01 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let head = try await client.readHead()
            #expect(head.status == 201)
            let events = try await SSEReader(client: client).readAll().compactMap(\.event)
            #expect(events.first == "run.started")
            #expect(events.filter { $0 == "task.finished" }.count == 3)
            #expect(events.last == "run.finished")
        }
    }

    @Test func twoHundredSubscribers_allReceiveEveryEvent() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 20, "delay_ms": 300, "jitter_ms": 200])
            let readers = try await withThrowingTaskGroup(of: SSEReader.self) { group in
                for _ in 0..<200 { group.addTask { try await server.events("/runs/\(id)/events").1 } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let streams = try await withThrowingTaskGroup(of: [Int].self) { group in
                for reader in readers { group.addTask { try await reader.readAll().compactMap(\.id) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let expected = try await server.events("/runs/\(id)/events").1.readAll().compactMap(\.id)
            #expect(expected.count > 40)
            #expect(streams.count == 200)
            #expect(streams.allSatisfy { $0 == expected })
        }
    }

    @Test(arguments: [("Last-Event-ID", "abc"), ("Last-Event-ID", "-3")])
    func badResumePoint_is400NamingIt(header: String, value: String) async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 1, "delay_ms": 0])
            let response = try await server.request("GET", "/runs/\(id)/events", headers: [(header, value)])
            #expect(response.status == 400)
            #expect(response.json?["errors"]?.arrayValue?.first?["field"] == .string(header))
            let after = try await server.request("GET", "/runs/\(id)/events?after=x")
            #expect(after.status == 400)
        }
    }

    /// One cap, the HTTP server's stream limit: one gauge, one rejection count, one body.
    @Test func overTheSubscriberLimit_theExcessGets503() async throws {
        let configuration = LabTestServer.configuration { $0.maxSubscribers = 2 }
        try await LabTestServer.with(configuration) { server in
            let id = try await launch(server, ["count": 1, "delay_ms": 60_000])
            let first = try await server.events("/runs/\(id)/events")
            let second = try await server.events("/runs/\(id)/events")
            #expect(first.0.status == 200 && second.0.status == 200)
            let third = try await server.request("GET", "/runs/\(id)/events")
            #expect(third.status == 503)
            #expect(third.header("Retry-After") == "1")
            #expect(third.json?["type"] == "urn:concurrency-lab:problem:too-many-subscribers")
            #expect(third.json?["detail"] == "at most 2 event streams may be open at once; try again shortly")
            #expect(third.json?["instance"] == .string("/runs/\(id)/events"))
            let metrics = try await server.request("GET", "/metrics").text.split(separator: "\n")
            #expect(metrics.contains("lab_sse_subscribers 2.0"))
            #expect(metrics.contains(#"lab_admission_rejections_total{reason="streams"} 1"#))
            #expect(!metrics.contains { $0.hasPrefix("lab_http_open_streams") })
            _ = try await server.request("DELETE", "/runs/\(id)")
            #expect(try await first.1.readAll().last?.event == "run.finished")
        }
    }

    @Test func cancellingMidRun_endsTheStreamWithACancelledRun() async throws {
        try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 3, "delay_ms": 60_000])
            let (_, reader) = try await server.events("/runs/\(id)/events")
            var started = 0
            while started < 3, let frame = try await reader.next() {
                if frame.event == "task.started" { started += 1 }
            }
            _ = try await server.request("DELETE", "/runs/\(id)")
            let rest = try await reader.readAll()
            #expect(rest.filter { $0.event == "task.cancelled" }.count == 3)
            #expect(rest.last?.event == "run.finished")
            #expect(try JSONValue.parse(rest.last?.data ?? "")["status"] == "cancelled")
        }
    }

    @Test func shutdown_endsOpenStreamsWithAFinalEvent() async throws {
        var captured: SSEReader?
        let id = try await LabTestServer.with { server in
            let id = try await launch(server, ["count": 2, "delay_ms": 60_000])
            let (_, reader) = try await server.events("/runs/\(id)/events")
            _ = try await reader.next()  // retry
            captured = reader
            return id
        }
        let frames = try await (try #require(captured)).readAll()
        let last = try #require(frames.last)
        #expect(last.event == "run.finished" || last.event == "server.shutdown")
        #expect(frames.contains { $0.event == "run.finished" && $0.data?.contains(id) == true })
    }
}

@Suite struct SlowSubscriberTests {
    /// A client that stops reading a live stream is closed by the connection timeout once
    /// its buffers are full; a client that keeps reading and the run itself are unaffected.
    @Test func aSubscriberThatStopsReading_isCutOff_whileOthersAndTheRunAreUnaffected() async throws {
        let taskCount = 20_000
        let configuration = LabTestServer.configuration {
            $0.runs.limits.spanCap = taskCount
            $0.runs.eventCap = 4 * taskCount
            $0.server.streamHighWaterMark = 4_096
            // A fixed send buffer, so that what the stalled client is sent stops at kilobytes
            // (the kernel's own grows to megabytes, close to the whole run).
            $0.server.socketSendBufferBytes = 8_192
            // Long enough that a reading client stalled by a busy machine is not taken for one
            // that stopped (3 s was not, beside the other suites on two cores: the reading
            // client was cut); the test waits for the cut below instead of timing it. The run's
            // tasks sleep 1 s, well inside it: the reading client's stream is silent while they
            // sleep, and a sleep as long as the timeout had it cut too (on a quiet machine,
            // where the 20,000 starts spread least).
            $0.server.connectionTimeout = 8
        }
        try await LabTestServer.with(configuration) { server in
            let launched = try await server.request(
                "POST", "/patterns/gather/runs", json: ["count": .int(taskCount), "delay_ms": 1_000])
            let id = try #require(launched.json?["id"]?.stringValue)
            let slowClient = try HTTPTestClient(port: server.port, timeout: .seconds(30), receiveBufferBytes: 4_096)
            try await slowClient.send("GET /runs/\(id)/events HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await slowClient.readHead().status == 200)
            let fastFrames = try await server.events("/runs/\(id)/events").1.readAll()
            let ids = fastFrames.compactMap(\.id)
            #expect(ids == Array(1..<(ids.count + 1)))
            #expect(fastFrames.last?.event == "run.finished")
            let run = try await server.request("GET", "/runs/\(id)").json
            #expect(run?["status"] == "succeeded")
            #expect(run?["checks_passed"] == true)
            // The server cuts the stalled stream once its connection has made no progress for
            // the timeout: wait for that (the only stream left is the slow one).
            try await waitUntil("the stalled stream is closed", maxTurns: 2_000_000) { server.lab.openStreams == 0 }
            // Only now does the slow client read: what it gets stops short of the end.
            let slowReader = SSEReader(client: slowClient)
            var slowFrames: [SSEFrame] = []
            var cutOff = false
            do {
                while let frame = try await slowReader.next() { slowFrames.append(frame) }
            } catch HTTPTestError.closedByPeer {
                cutOff = true  // the connection was closed mid-stream, as it should be
            }
            #expect(cutOff)
            #expect(!slowFrames.isEmpty)
            #expect(!slowFrames.contains { $0.event == "run.finished" })
        }
    }
}

extension SSEFrame {
    var withoutRetry: SSEFrame {
        var frame = self
        frame.retry = nil
        return frame
    }
}
