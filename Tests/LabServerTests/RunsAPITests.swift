import Foundation
import LabJSON
import Patterns
import Testing
import TestSupport

@Suite struct RunsAPITests {
    @Test func health_reportsStatusVersionUptimeAndStore_withARequestID() async throws {
        try await LabTestServer.with { server in
            let response = try await server.request("GET", "/healthz", headers: [("X-Request-Id", "my-id-42")])
            #expect(response.status == 200)
            #expect(response.header("X-Request-Id") == "my-id-42")
            let health = try #require(response.json)
            #expect(health["status"] == "ok")
            #expect(health["store"] == "ok")
            #expect(health["version"]?.stringValue?.isEmpty == false)
            // Seconds since the server started: a test server is seconds old, not hours.
            let uptime = try #require(health["uptime_s"]?.doubleValue)
            #expect(uptime >= 0 && uptime < 600)
        }
    }

    @Test func launchWithWait_returnsTheFinishedRunWithPassingChecksAndATimeline() async throws {
        try await LabTestServer.with { server in
            let response = try await server.request(
                "POST", "/patterns/gather/runs?wait=10", json: ["count": 10, "delay_ms": 20])
            #expect(response.status == 200)
            let run = try #require(response.json)
            #expect(run["status"] == "succeeded")
            #expect(run["checks_passed"] == true)
            #expect(run["timeline"]?["spans"]?.arrayValue?.count == 10)
            #expect(response.header("Location") == "/runs/\(run["id"]?.stringValue ?? "")")
            #expect(response.header("X-Request-Id")?.isEmpty == false)
        }
    }

    /// Runs knows no URL: the links come from LabServer's route templates, in every answer and
    /// in the `run.finished` event alike.
    @Test func runLinks_areTheRoutesOfTheRunItsEventsAndItsTrace_inAnswersAndInTheFinalEvent() async throws {
        try await LabTestServer.with { server in
            let run = try #require(try await server.request("POST", "/patterns/gather/runs?wait=10", json: ["count": 2, "delay_ms": 1]).json)
            let id = try #require(run["id"]?.stringValue)
            let links: JSONValue = [
                "self": .string("/runs/\(id)"), "events": .string("/runs/\(id)/events"), "trace": .string("/runs/\(id)/trace"),
            ]
            #expect(run["links"] == links)
            #expect(try await server.request("GET", "/runs/\(id)").json?["links"] == links)
            #expect(try await server.request("GET", "/runs").json?["runs"]?.arrayValue?.first?["links"] == links)
            let finished = try await server.events("/runs/\(id)/events").1.readAll().last { $0.event == "run.finished" }
            #expect(try JSONValue.parse(finished?.data ?? "")["links"] == links)
        }
    }

    /// Every entry of the catalog, with its defaults, over HTTP, on the virtual clock: the
    /// defaults are valid and every check passes, the same every time. Real-clock runs of the
    /// defaults are the e2e suite's (`test_every_pattern.py`, one run at a time): here, beside
    /// hundreds of other tests on two cores, a real-clock race or heartbeat fails for the
    /// machine's sake (first-completed's 120 ms racer beaten by the 155 ms one, a 20 ms heartbeat
    /// seeing a 190 ms gap), not its own. A pattern whose entry says it refuses virtual must
    /// answer 422 naming `clock`.
    @Test func everyCatalogPattern_withItsDefaults_finishesWithEveryCheckPassing() async throws {
        let configuration = LabTestServer.configuration { $0.runs.maxConcurrentRuns = 64 }
        try await LabTestServer.with(configuration) { server in
            let catalog = try #require(try await server.request("GET", "/patterns").json?["patterns"]?.arrayValue)
            #expect(catalog.count == PatternCatalog.builtIn.count)
            for entry in catalog {
                let name = try #require(entry["name"]?.stringValue)
                let clock = entry["parameters"]?.arrayValue?.first { $0["name"] == "clock" }
                let refusesVirtual = clock?["description"]?.stringValue?.contains("refuses virtual") == true
                let response = try await server.request("POST", "/patterns/\(name)/runs?wait=15", json: ["clock": "virtual"])
                if refusesVirtual {
                    #expect(response.status == 422, "\(name)")
                    #expect(response.json?["errors"]?.arrayValue?.first?["field"] == "clock", "\(name)")
                    continue
                }
                let run = try JSONValue.parse(response.body)
                #expect(run["status"] == "succeeded", "\(name): \(run.serialized())")
                let failed = run["checks"]?.arrayValue?.filter { $0["passed"] != true } ?? []
                #expect(!(run["checks"]?.arrayValue?.isEmpty ?? true), "\(name) ran no check")
                #expect(failed.isEmpty, "\(name) failed checks: \(JSONValue.array(failed).serialized())")
            }
        }
    }

    @Test func launchWithoutWait_is201WithLocation_andTheRunCanBeLongPolled() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request("POST", "/patterns/gather/runs", json: ["count": 3, "delay_ms": 50])
            #expect(launched.status == 201)
            let location = try #require(launched.header("Location"))
            let polled = try await server.request("GET", location + "?wait=10")
            #expect(polled.status == 200)
            #expect(polled.json?["status"] == "succeeded")
        }
    }

    @Test func shortWait_on_aLongRun_is202WithTheRunStillGoing() async throws {
        try await LabTestServer.with { server in
            let response = try await server.request(
                "POST", "/patterns/gather/runs", json: ["count": 1, "delay_ms": 60_000],
                headers: [("Prefer", "wait=0.05")])
            #expect(response.status == 202)
            #expect(response.json?["status"] == "running")
        }
    }

    @Test func formFields_queryParameters_andCurlsDefaultContentType_areAllRead() async throws {
        try await LabTestServer.with { server in
            let form = try await server.client().request(
                "POST", "/patterns/gather/runs?wait=10", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array("count=4&delay_ms=1".utf8))
            #expect(form.json?["params"]?["count"] == 4)
            let query = try await server.request("POST", "/patterns/gather/runs?wait=10&count=5&delay_ms=1")
            #expect(query.json?["params"]?["count"] == 5)
            let curlJSON = try await server.client().request(
                "POST", "/patterns/gather/runs?wait=10", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array(#"{"count":6,"delay_ms":1}"#.utf8))
            #expect(curlJSON.json?["params"]?["count"] == 6)
        }
    }

    @Test func cancellingARunningRun_is202_thenTheRunEndsCancelled_andASecondCancelIs409() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request("POST", "/patterns/gather/runs", json: ["count": 5, "delay_ms": 60_000])
            let id = try #require(launched.json?["id"]?.stringValue)
            let cancel = try await server.request("DELETE", "/runs/\(id)")
            #expect(cancel.status == 202)
            let ended = try await server.request("GET", "/runs/\(id)?wait=10")
            #expect(ended.json?["status"] == "cancelled")
            #expect(ended.json?["timeline"]?["outcomes"]?["cancelled"] == 5)
            let again = try await server.request("DELETE", "/runs/\(id)")
            #expect(again.status == 409)
            #expect(again.header("Content-Type") == "application/problem+json")
        }
    }

    @Test func overTheConcurrentRunLimit_theExcessGets429AtOnce_andTheAdmittedRunsFinish() async throws {
        let configuration = LabTestServer.configuration { $0.runs.maxConcurrentRuns = 3 }
        try await LabTestServer.with(configuration) { server in
            var ids: [String] = []
            // Runs that cannot end by themselves while the test looks: no timing assumption.
            for _ in 0..<3 {
                let response = try await server.request("POST", "/patterns/gather/runs", json: ["count": 2, "delay_ms": 60_000])
                #expect(response.status == 201)
                ids.append(response.json?["id"]?.stringValue ?? "")
            }
            let refused = try await server.request("POST", "/patterns/gather/runs", json: ["count": 2])
            #expect(refused.status == 429)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.json?["type"] == "urn:concurrency-lab:problem:too-many-runs")
            for id in ids {
                #expect(try await server.request("DELETE", "/runs/\(id)").status == 202)
                #expect(try await server.request("GET", "/runs/\(id)?wait=10").json?["status"] == "cancelled")
            }
            let admittedAgain = try await server.request("POST", "/patterns/gather/runs?wait=10", json: ["count": 1])
            #expect(admittedAgain.status == 200)
        }
    }

    @Test func listing_filtersByPatternAndStatus_andPagesWithACursor() async throws {
        try await LabTestServer.with { server in
            for count in 1...5 { _ = try await server.runToEnd("gather", ["count": .int(count), "delay_ms": 0]) }
            let launched = try await server.request("POST", "/patterns/gather/runs", json: ["count": 1, "delay_ms": 60_000])
            let runningID = try #require(launched.json?["id"]?.stringValue)
            let running = try await server.request("GET", "/runs?status=running")
            #expect(running.json?["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [runningID])
            var counts: [Int] = []
            var cursor: String?
            repeat {
                let target = "/runs?status=succeeded&pattern=gather&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try #require(try await server.request("GET", target).json)
                counts += page["runs"]?.arrayValue?.compactMap { $0["params"]?["count"]?.intValue } ?? []
                #expect(page["runs"]?.arrayValue?.allSatisfy { $0["timeline"] == nil } == true)
                cursor = page["next_cursor"]?.stringValue
            } while cursor != nil
            #expect(counts == [5, 4, 3, 2, 1])
            _ = try await server.request("DELETE", "/runs/\(runningID)")
        }
    }

    /// `?cursor=` alone continues the filtered listing it came from; a filter beside it must agree.
    @Test func aCursor_carriesItsFilters_andADisagreeingFilterIsA400NamingIt() async throws {
        try await LabTestServer.with { server in
            for count in 1...3 {
                _ = try await server.runToEnd("gather", ["count": .int(count), "delay_ms": 0])
                _ = try await server.runToEnd("semaphore", ["count": 1, "limit": 1, "delay_ms": 0])
            }
            let first = try #require(try await server.request("GET", "/runs?pattern=gather&limit=1").json)
            let cursor = try #require(first["next_cursor"]?.stringValue)
            #expect(!cursor.contains(first["runs"]?.arrayValue?.first?["id"]?.stringValue ?? "-"), "a cursor is opaque, not a run id")
            var patterns: [String] = []
            var next: String? = cursor
            while let page = next {
                let body = try #require(try await server.request("GET", "/runs?limit=1&cursor=\(page)").json)
                patterns += body["runs"]?.arrayValue?.compactMap { $0["pattern"]?.stringValue } ?? []
                next = body["next_cursor"]?.stringValue
            }
            #expect(patterns == ["gather", "gather"])
            #expect(try await server.request("GET", "/runs?pattern=gather&cursor=\(cursor)").status == 200)
            for (query, field) in [("pattern=semaphore", "pattern"), ("status=failed", "status")] {
                let refused = try await server.request("GET", "/runs?\(query)&cursor=\(cursor)")
                #expect(refused.status == 400, "\(query)")
                #expect(refused.json?["errors"]?.arrayValue?.first?["field"]?.stringValue == field)
            }
            let runID = try #require(first["runs"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(try await server.request("GET", "/runs?cursor=\(runID)").status == 400)
        }
    }
}

@Suite struct ServerIsolationTests {
    /// Inline blocking calls starve the run's own heartbeat, never the server: while every
    /// thread of the run's pool is blocked for 12 s, an async route still answers within its
    /// 5 s deadline (were the server's threads blocked, it would get the 504 instead). The
    /// deadline leaves a busy machine time for the launch itself (2 s was once not enough).
    @Test func inlineBlockingRun_starvesItsHeartbeat_butNotTheServer() async throws {
        let configuration = LabTestServer.configuration { $0.server.requestTimeout = .seconds(5) }
        try await LabTestServer.with(configuration) { server in
            let width = ProcessInfo.processInfo.activeProcessorCount
            let launched = try await server.request(
                "POST", "/patterns/blocking-offload/runs",
                json: ["mode": "inline", "tasks": .int(width), "block_ms": 12_000, "heartbeat_ms": 20])
            let id = try #require(launched.json?["id"]?.stringValue, "launch answered \(launched.status)")
            let (_, reader) = try await server.events("/runs/\(id)/events")
            while let frame = try await reader.next(), frame.event != "task.started" {}
            let during = try await server.request("GET", "/runs/\(id)")
            #expect(during.status == 200)
            #expect(during.json?["status"] == "running")
            var final: JSONValue?
            while final?["status"] == nil || final?["status"] == "running" {
                final = try await server.request("GET", "/runs/\(id)?wait=1").json
            }
            let ended = try #require(final)
            #expect(ended["status"] == "succeeded")
            #expect(ended["checks_passed"] == true)
            #expect(ended["checks"]?.arrayValue?.contains { $0["name"] == "starvation_observed" } == true)
        }
    }
}
