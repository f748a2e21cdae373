import Patterns
import Testing

/// Work a pattern shields from cancellation runs in production too: a resource scope
/// cancelled over HTTP still takes each exit's time, on the run's own threads.
@Suite struct ShieldedCleanupTests {
    @Test func cancellingAResourceScope_stillTakesEveryExitsTime() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request(
                "POST", "/patterns/resource-scope/runs",
                json: ["resources": 2, "use_ms": 60_000, "exit_ms": 100])
            let id = try #require(launched.json?["id"]?.stringValue)
            // Read the stream until both resources are held, then cancel.
            let (_, reader) = try await server.events("/runs/\(id)/events")
            var held = 0
            while held < 2, let frame = try await reader.next() {
                if frame.event == "resource.acquired" { held += 1 }
            }
            #expect(held == 2)
            let cancel = try await server.request("DELETE", "/runs/\(id)")
            #expect(cancel.status == 202)
            let ended = try #require(try await server.request("GET", "/runs/\(id)?wait=10").json)
            #expect(ended["status"] == "cancelled")
            #expect(ended["result"]?["release_order"] == [1, 0])
            #expect((ended["result"]?["shortest_exit_ms"]?.doubleValue ?? 0) >= 100)
            #expect(ended["checks"]?.arrayValue?.allSatisfy { $0["passed"] == true } == true)
            let rest = try await reader.readAll().compactMap(\.event)
            #expect(rest.filter { $0 == "resource.released" }.count == 2)
            #expect(rest.last == "run.finished")
        }
    }
}
