import Foundation
import Synchronization
import LabJSON
@testable import LabServer
import Patterns
import Testing
import TestSupport

@Suite struct MetricsTests {
    /// The value of the first sample line starting with `prefix`, if any.
    private func sample(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }
            .flatMap { Double($0) }
    }

    /// `# TYPE` of each family in a scrape.
    private func types(_ text: String) -> [String: String] {
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            types[String(parts[2])] = String(parts[3])
        }
        return types
    }

    /// A route's counts are kept per thread (one shard each) and summed when scraped: twelve
    /// threads, more than one per shard for some, record at once; the scrape has every request
    /// once, by method and status, in the right bucket, with the durations' sum.
    @Test func countsRecordedOnManyThreads_areSummedWhenScraped() {
        let metrics = LabMetrics()
        let series = metrics.series(route: "/x")
        let threads = 12, perThread = 500
        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                for _ in 0..<perThread {
                    series.record(method: "GET", status: thread % 2 == 0 ? 200 : 404, duration: .microseconds(200))
                }
                series.record(method: "POST", status: 201, duration: .seconds(400))
                done.leave()
            }
        }
        done.wait()
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let half = Double(threads / 2 * perThread)
        #expect(sample(text, #"lab_http_requests_total{route="/x",method="GET",status="200"}"#) == half)
        #expect(sample(text, #"lab_http_requests_total{route="/x",method="GET",status="404"}"#) == half)
        #expect(sample(text, #"lab_http_requests_total{route="/x",method="POST",status="201"}"#) == Double(threads))
        #expect(sample(text, #"lab_http_request_duration_seconds_bucket{route="/x",le="0.0001"}"#) == 0)
        #expect(sample(text, #"lab_http_request_duration_seconds_bucket{route="/x",le="0.0005"}"#) == 2 * half)
        #expect(sample(text, #"lab_http_request_duration_seconds_bucket{route="/x",le="300.0"}"#) == 2 * half)
        #expect(sample(text, #"lab_http_request_duration_seconds_bucket{route="/x",le="+Inf"}"#) == 2 * half + Double(threads))
        #expect(sample(text, #"lab_http_request_duration_seconds_count{route="/x"}"#) == 2 * half + Double(threads))
        let sum = sample(text, #"lab_http_request_duration_seconds_sum{route="/x"}"#)
        #expect(sum != nil)
        #expect(abs((sum ?? 0) - (2 * half * 0.0002 + Double(threads) * 400)) < 1e-6)
    }

    /// A thread keeps its slot, and threads alive at once have different ones: each records
    /// into a shard of its own (`RouteSeries`), so the workers never share one.
    @Test func eachThread_keepsItsOwnSlot() {
        let slots = Mutex<[(first: Int, again: Int)]>([])
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for _ in 0..<3 {
            finished.enter()
            Thread.detachNewThread {
                let first = ThreadSlot.current
                started.signal()
                release.wait()  // alive until every thread has taken its slot
                let again = ThreadSlot.current
                slots.withLock { $0.append((first, again)) }
                finished.leave()
            }
        }
        for _ in 0..<3 { started.wait() }
        for _ in 0..<3 { release.signal() }
        finished.wait()
        let taken = slots.withLock { $0 }
        #expect(taken.count == 3)
        #expect(taken.allSatisfy { $0.first == $0.again })
        #expect(Set(taken.map(\.first)).count == 3)
    }

    /// A label value is escaped as the text format asks (backslash, double quote, newline),
    /// a newline inside "\r\n" too: a raw one would end the sample's line.
    @Test func labelValues_areEscaped() {
        let metrics = LabMetrics()
        metrics.series(route: "/x").record(method: "a\"b\\c\r\nd", status: 200, duration: .milliseconds(1))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"lab_http_requests_total{route="/x",method="a\"b\\c"# + "\r" + #"\nd",status="200"} 1"#))
        #expect(!text.contains("\r\n"))
    }

    /// A route's series, which the application keeps per route: one counter per method and
    /// status, one histogram per route, and the same series for the same template.
    @Test func aRoute_countsEachMethodAndStatusApart_andSharesOneHistogram() {
        let metrics = LabMetrics()
        let series = metrics.series(route: "/runs/{id}")
        #expect(metrics.series(route: "/runs/{id}") === series)
        #expect(metrics.series(route: "/runs") !== series)
        series.record(method: "GET", status: 200, duration: .milliseconds(2))
        series.record(method: "GET", status: 200, duration: .milliseconds(2))
        series.record(method: "GET", status: 404, duration: .milliseconds(2))
        metrics.series(route: "/runs/{id}").record(method: "DELETE", status: 200, duration: .seconds(2))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(sample(text, #"lab_http_requests_total{route="/runs/{id}",method="GET",status="200"}"#) == 2)
        #expect(sample(text, #"lab_http_requests_total{route="/runs/{id}",method="GET",status="404"}"#) == 1)
        #expect(sample(text, #"lab_http_requests_total{route="/runs/{id}",method="DELETE",status="200"}"#) == 1)
        #expect(sample(text, #"lab_http_request_duration_seconds_count{route="/runs/{id}"}"#) == 4)
        #expect(sample(text, #"lab_http_request_duration_seconds_bucket{route="/runs/{id}",le="1.0"}"#) == 3)
    }

    @Test func metrics_countRequestsByRoute_runsByPatternAndStatus_andRejections() async throws {
        let configuration = LabTestServer.configuration { $0.runs.maxConcurrentRuns = 1 }
        try await LabTestServer.with(configuration) { server in
            _ = try await server.runToEnd("gather", ["count": 2, "delay_ms": 0])
            let long = try await server.request("POST", "/patterns/gather/runs", json: ["count": 1, "delay_ms": 60_000])
            #expect(try await server.request("POST", "/patterns/gather/runs", json: [:]).status == 429)
            for _ in 0..<3 { _ = try await server.request("GET", "/healthz") }
            let response = try await server.request("GET", "/metrics")
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
            let text = response.text
            #expect(sample(text, #"lab_http_requests_total{route="/healthz",method="GET",status="200"}"#) == 3)
            #expect(sample(text, #"lab_runs_ended_total{pattern="gather",status="succeeded"}"#) == 1)
            #expect(sample(text, #"lab_runs_started_total{pattern="gather"}"#) == 2)
            #expect(sample(text, #"lab_runs_started_total{pattern="semaphore"}"#) == 0)
            #expect(sample(text, #"lab_admission_rejections_total{reason="too_many_runs"}"#) == 1)
            #expect(sample(text, #"lab_admission_rejections_total{reason="connections"}"#) == 0)
            #expect(sample(text, "lab_runs_active") == 1)
            #expect(sample(text, #"lab_http_request_duration_seconds_count{route="/healthz"}"#) == 3)
            if let id = long.json?["id"]?.stringValue { _ = try await server.request("DELETE", "/runs/\(id)") }
            // Counters read at scrape time only grow: a second scrape still says the same.
            let again = try await server.request("GET", "/metrics").text
            #expect(sample(again, #"lab_runs_started_total{pattern="gather"}"#) == 2)
            #expect(sample(again, #"lab_admission_rejections_total{reason="too_many_runs"}"#) == 1)
        }
    }

    /// Prometheus' conventions: every family has `# HELP` and `# TYPE`; counters are typed
    /// `counter` and end in `_total`; nothing else does; the duration is in seconds.
    @Test func everyFamily_hasHelpAndType_andCountersAreCountersNamedTotal() async throws {
        try await LabTestServer.with { server in
            _ = try await server.runToEnd("gather", ["count": 1, "delay_ms": 0])
            let text = try await server.request("GET", "/metrics").text
            let types = types(text)
            #expect(Set(types.keys) == Set(MetricFamily.allCases.map(\.name)))
            for family in MetricFamily.allCases {
                #expect(text.contains("# HELP \(family.name) "), "\(family.name) has no HELP")
                #expect(types[family.name] == family.kind.rawValue)
                #expect(family.name.hasSuffix("_total") == (family.kind == .counter), "\(family.name)")
            }
            let families = Set(types.keys)
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let family = ["_bucket", "_sum", "_count"].reduce(name) { name, suffix in
                    families.contains(name) ? name : (name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name)
                }
                #expect(families.contains(family), "sample \(name) has no family")
            }
        }
    }

    /// A stream's duration is recorded when it ends, not when its head is sent: while the
    /// stream is open its route's histogram (exported from the start, at 0) has no sample;
    /// after, one, lasting at least from the head's arrival to the cancel that ended it.
    @Test func anEventStreamsDuration_isMeasuredToTheStreamsEnd() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request("POST", "/patterns/gather/runs", json: ["count": 1, "delay_ms": 60_000])
            let id = try #require(launched.json?["id"]?.stringValue)
            let (head, reader) = try await server.events("/runs/\(id)/events")
            #expect(head.status == 200)
            let opened = ContinuousClock.now
            _ = try await reader.next()
            let count = #"lab_http_request_duration_seconds_count{route="/runs/{id}/events"}"#
            let whileOpen = try await server.request("GET", "/metrics").text
            #expect(sample(whileOpen, count) == 0)
            #expect(sample(whileOpen, #"lab_http_requests_total{route="/runs/{id}/events""#) == nil)
            // The stream cannot end before the cancel is sent: the server's duration is at least this.
            let held = opened.duration(to: .now)
            #expect(try await server.request("DELETE", "/runs/\(id)").status == 202)
            _ = try await reader.readAll()
            // The stream is recorded as its producer returns, which races the client seeing EOF.
            var text = ""
            for _ in 0..<500 {
                text = try await server.request("GET", "/metrics").text
                if sample(text, count) == 1 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(sample(text, count) == 1)
            let sum = try #require(sample(text, #"lab_http_request_duration_seconds_sum{route="/runs/{id}/events"}"#))
            #expect(sum >= Double(held.components.seconds) + Double(held.components.attoseconds) / 1e18)
            #expect(sample(text, #"lab_http_requests_total{route="/runs/{id}/events",method="GET",status="200"}"#) == 1)
        }
    }

    /// The spec's `/metrics` description names exactly the families the server exports.
    @Test func theSpecsMetricsDescription_listsEveryFamily() throws {
        let spec = try String(contentsOf: LabConfiguration().openAPIFile, encoding: .utf8)
        let start = try #require(spec.range(of: "operationId: getMetrics"))
        let section = spec[start.upperBound...].prefix { _ in true }.components(separatedBy: "responses:").first ?? ""
        let named = Set(section.matches(of: /`(lab_[a-z_]+)/).map { String($0.1) })
        #expect(named == Set(MetricFamily.allCases.map(\.name)))
    }
}
