import Foundation
import Patterns
import Testing

@Suite struct MetricsTests {
    /// The value of the first sample line starting with `prefix`, if any.
    private func sample(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }
            .flatMap { Double($0) }
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
            #expect(sample(text, #"lab_admission_rejections_total{reason="too_many_runs"}"#) == 1)
            #expect(sample(text, "lab_runs_active") == 1)
            #expect(text.contains("lab_http_request_duration_seconds_bucket"))
            if let id = long.json?["id"]?.stringValue { _ = try await server.request("DELETE", "/runs/\(id)") }
        }
    }
}
