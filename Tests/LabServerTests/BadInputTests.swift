import Foundation
import Patterns
import Testing

/// A table of bad requests: each gets its documented 4xx as problem+json, never a 5xx.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let target: String
        var headers: [(String, String)] = []
        var body: String?
        let status: Int
        var field: String?

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown pattern", method: "POST", target: "/patterns/nope/runs", body: "{}", status: 404),
        Case(name: "malformed JSON", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\": ", status: 400),
        Case(name: "JSON that is not an object", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "[1,2]", status: 400),
        Case(name: "duplicate keys", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\":1,\"count\":2}", status: 400),
        Case(name: "unknown parameter", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"colour\":1}", status: 422, field: "colour"),
        Case(name: "string for a number", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\":\"ten\"}", status: 422, field: "count"),
        Case(name: "negative count", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\":-1}", status: 422, field: "count"),
        Case(name: "fractional count", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\":2.5}", status: 422, field: "count"),
        Case(name: "huge number", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"count\":1e300}", status: 422, field: "count"),
        Case(name: "delay over the limit", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"delay_ms\":60001}", status: 422, field: "delay_ms"),
        Case(name: "XML body", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/xml")], body: "<count>1</count>", status: 415),
        Case(name: "repeated query parameter", method: "POST", target: "/patterns/gather/runs?count=1&count=2", status: 400, field: "count"),
        Case(name: "unknown clock", method: "POST", target: "/patterns/gather/runs", headers: [("Content-Type", "application/json")], body: "{\"clock\":\"sundial\"}", status: 422, field: "clock"),
        Case(name: "blocking work on a virtual clock", method: "POST", target: "/patterns/blocking-offload/runs", headers: [("Content-Type", "application/json")], body: "{\"clock\":\"virtual\"}", status: 422, field: "clock"),
        Case(name: "bad pace", method: "GET", target: "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/events?pace=fast", status: 400, field: "pace"),
        Case(name: "pace of zero", method: "GET", target: "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/events?pace=0", status: 400, field: "pace"),
        Case(name: "pace over the limit", method: "POST", target: "/patterns/gather/runs?pace=11", headers: [("Accept", "text/event-stream")], status: 400, field: "pace"),
        Case(name: "bad wait", method: "POST", target: "/patterns/gather/runs?wait=abc", status: 400, field: "wait"),
        Case(name: "wait over the limit", method: "POST", target: "/patterns/gather/runs?wait=61", status: 400, field: "wait"),
        Case(name: "unknown run", method: "GET", target: "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV", status: 404),
        Case(name: "unknown run events", method: "GET", target: "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/events", status: 404),
        Case(name: "cancel unknown run", method: "DELETE", target: "/runs/nope", status: 404),
        Case(name: "bad limit", method: "GET", target: "/runs?limit=0", status: 400, field: "limit"),
        Case(name: "bad cursor", method: "GET", target: "/runs?cursor=../../x", status: 400, field: "cursor"),
        Case(name: "bad status filter", method: "GET", target: "/runs?status=done", status: 400, field: "status"),
        Case(name: "unknown list parameter", method: "GET", target: "/runs?colour=red", status: 400, field: "colour"),
        Case(name: "repeated list parameter", method: "GET", target: "/runs?limit=5&limit=6", status: 400, field: "limit"),
        Case(name: "unknown path", method: "GET", target: "/nothing/here", status: 404),
        Case(name: "wrong method", method: "PUT", target: "/runs", status: 405),
        Case(name: "traversal", method: "GET", target: "/../openapi.yaml", status: 404),
        Case(name: "encoded traversal", method: "GET", target: "/%2e%2e/%2e%2e/etc/passwd", status: 404),
        Case(name: "double-encoded traversal", method: "GET", target: "/%252e%252e/etc/passwd", status: 404),
        Case(name: "broken escape", method: "GET", target: "/%zz", status: 404),
    ]

    @Test(arguments: cases)
    func badRequest_getsItsDocumentedProblem(_ bad: Case) async throws {
        try await LabTestServer.with { server in
            let response = try await server.client().request(
                bad.method, bad.target, headers: bad.headers, body: bad.body.map { Array($0.utf8) })
            #expect(response.status == bad.status, "\(response.status) \(response.text)")
            #expect(response.header("Content-Type") == "application/problem+json")
            let problem = try #require(response.json)
            #expect(problem["status"] == .int(bad.status))
            #expect(problem["title"]?.stringValue?.isEmpty == false)
            if let field = bad.field {
                let fields = problem["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
                #expect(fields.contains(field), "errors: \(problem["errors"]?.serialized() ?? "none")")
            }
            if bad.status == 405 { #expect(response.header("Allow") == "GET, HEAD, OPTIONS") }
            let health = try await server.request("GET", "/healthz")
            #expect(health.status == 200)
        }
    }
}
