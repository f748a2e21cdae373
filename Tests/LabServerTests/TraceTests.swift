import LabJSON
import TestSupport
import Testing

/// `GET /runs/{id}/trace`: the run in the Chrome Trace Event format, every span and every event
/// in it exactly once.
@Suite struct TraceTests {
    /// The trace's events, and the run's own events as its stream gave them.
    struct Fixture {
        let run: JSONValue
        let trace: JSONValue
        let events: [SSEFrame]

        var traceEvents: [JSONValue] { trace["traceEvents"]?.arrayValue ?? [] }

        func ofPhase(_ phase: String) -> [JSONValue] { traceEvents.filter { $0["ph"]?.stringValue == phase } }
    }

    static func fixture(_ server: LabTestServer, _ pattern: String, _ params: JSONValue) async throws -> Fixture {
        let run = try await server.runToEnd(pattern, params)
        let id = try #require(run["id"]?.stringValue)
        let response = try await server.request("GET", "/runs/\(id)/trace")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
        let events = try await server.events("/runs/\(id)/events").1.readAll().filter { $0.event != nil }
        return Fixture(run: run, trace: try JSONValue.parse(response.body), events: events)
    }

    @Test func aRunsTrace_isValid_andHoldsEverySpanAndEventExactlyOnce() async throws {
        try await LabTestServer.with { server in
            let params: JSONValue = ["count": 5, "limit": 2, "delay_ms": 100, "clock": "virtual"]
            let fixture = try await Self.fixture(server, "semaphore", params)
            #expect(TraceValidator.issues(fixture.trace) == [])
            #expect(fixture.trace["displayTimeUnit"] == "ms")

            // Every span once, as a complete event on its task's track, in microseconds.
            let spans = fixture.run["timeline"]?["spans"]?.arrayValue ?? []
            let complete = fixture.ofPhase("X")
            #expect(spans.count == 5 && complete.count == spans.count)
            let spanKeys = spans.map { "\($0["task"]?.intValue ?? -1) \($0["start_ms"]?.doubleValue ?? -1) \($0["end_ms"]?.doubleValue ?? -1)" }
            let traceKeys = complete.map { event -> String in
                let start = Double(event["ts"]?.intValue ?? 0) / 1000
                let end = start + Double(event["dur"]?.intValue ?? 0) / 1000
                return "\(event["args"]?["task"]?.intValue ?? -1) \(start) \(end)"
            }
            #expect(Set(spanKeys) == Set(traceKeys) && Set(traceKeys).count == spans.count)
            #expect(complete.allSatisfy { $0["tid"]?.intValue == ($0["args"]?["task"]?.intValue ?? -9) + 2 })

            // Every event once: a span's start or end, an instant, or a progress counter.
            let ids = complete.flatMap { [$0["args"]?["started_event"]?.intValue, $0["args"]?["ended_event"]?.intValue] }.compactMap { $0 }
                + fixture.ofPhase("i").compactMap { $0["args"]?["event_id"]?.intValue }
            let nonProgress = fixture.events.filter { $0.event != "progress" }.compactMap(\.id)
            #expect(ids.sorted() == nonProgress.sorted())
            let progress = fixture.ofPhase("C").filter { $0["name"] == "tasks completed" }
            #expect(progress.count == fixture.events.filter { $0.event == "progress" }.count)
        }
    }

    @Test func theCountersTracks_holdEveryValueTheEventsCarried() async throws {
        try await LabTestServer.with { server in
            let fixture = try await Self.fixture(server, "semaphore", ["count": 5, "limit": 2, "delay_ms": 100, "clock": "virtual"])
            for (name, title) in [("in_flight", "permits held"), ("waiting", "tasks waiting for a permit")] {
                let fromEvents = fixture.events.compactMap { event -> Int? in
                    guard event.event != "run.finished" else { return nil }
                    return (try? JSONValue.parse(event.data ?? ""))?[name]?.intValue
                }
                let counter = fixture.ofPhase("C").filter { $0["name"]?.stringValue == title }
                #expect(counter.compactMap { $0["args"]?[name]?.intValue } == fromEvents)
                #expect(!fromEvents.isEmpty)
            }
            // A holder's events sit on its track: the acquisition is inside its span.
            let acquired = fixture.ofPhase("i").filter { $0["name"] == "semaphore.acquired" }
            #expect(acquired.count == 5 && acquired.allSatisfy { $0["tid"]?.intValue == ($0["args"]?["task"]?.intValue ?? -9) + 2 })
            #expect(acquired.map { $0["ts"]?.intValue ?? -1 } == [0, 0, 100_000, 100_000, 200_000])
        }
    }

    @Test func aRunStillGoing_has409_andAnUnknownRun404() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request("POST", "/patterns/semaphore/runs", json: ["count": 2, "limit": 1, "delay_ms": 5_000])
            let id = try #require(launched.json?["id"]?.stringValue)
            let running = try await server.request("GET", "/runs/\(id)/trace")
            #expect(running.status == 409)
            #expect(running.json?["type"] == "urn:concurrency-lab:problem:run-not-ended")
            _ = try await server.request("DELETE", "/runs/\(id)")
            let missing = try await server.request("GET", "/runs/no-such-run/trace")
            #expect(missing.status == 404)
        }
    }

    /// Events without a span (a task past the span cap, a waiter that never held a permit) go on
    /// the run's track, so the trace has one track per span and never one per event.
    @Test func eventsOfTasksWithoutASpan_goOnTheRunsTrack() async throws {
        let configuration = LabTestServer.configuration { $0.runs.limits.spanCap = 2 }
        try await LabTestServer.with(configuration) { server in
            let fixture = try await Self.fixture(server, "semaphore", ["count": 6, "limit": 3, "delay_ms": 10, "clock": "virtual"])
            #expect(TraceValidator.issues(fixture.trace) == [])
            let tracks = Set(fixture.traceEvents.filter { $0["ph"] != "M" }.compactMap { $0["tid"]?.intValue })
            #expect(tracks == [1, 2, 3])
            #expect(fixture.ofPhase("X").count == 2)
        }
    }

    @Test func theValidator_findsWhatViewersRefuse() {
        let bad: JSONValue = ["traceEvents": [
            ["name": "a", "ph": "X", "ts": 0, "pid": 1, "tid": 2],
            ["name": "b", "ph": "C", "ts": 5, "pid": 1, "tid": 1, "args": ["v": "x"]],
            ["name": "c", "ph": "X", "ts": 10, "dur": 10, "pid": 1, "tid": 3],
            ["name": "d", "ph": "X", "ts": 15, "dur": 10, "pid": 1, "tid": 3],
            ["name": "e", "ph": "B", "ts": 0, "pid": 1, "tid": 1],
        ]]
        let issues = TraceValidator.issues(bad)
        #expect(issues.contains { $0.contains("needs dur") })
        #expect(issues.contains { $0.contains("counter's args") })
        #expect(issues.contains { $0.contains("overlap without nesting") })
        #expect(issues.contains { $0.contains("is not X, i, C or M") })
    }
}
