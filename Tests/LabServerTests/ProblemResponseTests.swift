import LabJSON
import LabServer
import MicroHTTP
import Testing
import TestSupport

/// Every problem body has one writer: LabServer's own errors and the HTTP server's refusals
/// alike carry `type` (a `urn:concurrency-lab:problem:` URI), `title`, `status`, `detail`.
@Suite struct ProblemResponseTests {
    @Test func everyRefusal_isAProblemWithTheLabsFields() throws {
        let refusals: [(Refusal, String)] = [
            (.overloaded(limit: 3), "overloaded"), (.tooManyStreams(limit: 4), "too-many-subscribers"),
            (.tooManyConnections(limit: 5), "too-many-connections"), (.shuttingDown, "shutting-down"),
            (.bodyTooLarge(limit: 6), "content-too-large"), (.timedOut(after: .seconds(7)), "deadline-exceeded"),
        ]
        for (refusal, slug) in refusals {
            let body = ProblemResponse.refusalBody(refusal, "/runs")
            #expect(body.contentType == "application/problem+json")
            let problem = try JSONValue.parse(body.bytes)
            #expect(problem["type"] == .string("urn:concurrency-lab:problem:\(slug)"))
            #expect(problem["status"] == .int(refusal.status))
            #expect(problem["title"]?.stringValue?.isEmpty == false)
            #expect(problem["detail"]?.stringValue?.isEmpty == false)
            #expect(problem["instance"] == "/runs")
        }
        // At accept no request was read: no instance.
        let atAccept = try JSONValue.parse(ProblemResponse.refusalBody(.tooManyConnections(limit: 1), nil).bytes)
        #expect(atAccept.objectValue?.keys.contains("instance") == false)
    }

    /// The server's own 413 (before any handler runs) is rendered by LabServer.
    @Test func aBodyOverTheLimit_getsTheLabsProblem_fromTheHTTPServer() async throws {
        let configuration = LabTestServer.configuration { $0.server.maxBodyBytes = 64 }
        try await LabTestServer.with(configuration) { server in
            let body = JSONValue.object(["padding": .string(String(repeating: "x", count: 200))])
            let response = try await server.request("POST", "/patterns/gather/runs", json: body)
            #expect(response.status == 413)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.json?["type"] == "urn:concurrency-lab:problem:content-too-large")
            #expect(response.json?["detail"] == "the request body exceeds the limit of 64 bytes")
            #expect(response.json?["instance"] == "/patterns/gather/runs")
        }
    }

    /// A connection past the connection limit is answered at accept with the lab's problem.
    @Test func aConnectionOverTheLimit_getsTheLabsProblem_atAccept() async throws {
        let configuration = LabTestServer.configuration { $0.server.connectionLimit = 1 }
        try await LabTestServer.with(configuration) { server in
            let holder = try server.client()
            #expect(try await holder.request("GET", "/healthz").status == 200)
            let refused = try await server.client().readResponse()
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.json?["type"] == "urn:concurrency-lab:problem:too-many-connections")
            #expect(refused.json?["status"] == 503)
        }
    }
}
