import Foundation
import LabJSON
@testable import LabServer
import MicroHTTP
import Testing
import TestSupport

@Suite("CORS policy")
struct CORSPolicyTests {
    @Test func parsing_readsStarNoneAndLists_andRefusesWhatIsNoOrigin() throws {
        #expect(try CORSPolicy(parsing: "*").origins == .any)
        #expect(try CORSPolicy(parsing: " none ").origins == CORSPolicy.Origins.none)
        #expect(
            try CORSPolicy(parsing: "https://App.Example, http://localhost:3000").origins
                == .listed(["https://app.example", "http://localhost:3000"]))
        for bad in ["", "app.example", "https://app.example/", "ftp://x", "https://a.example,,https://b.example", "https://"] {
            #expect(throws: CORSPolicyError.self, "\(bad)") { try CORSPolicy(parsing: bad) }
        }
    }

    @Test func aListedOrigin_isEchoed_withVary_andOthersAreNotGranted() {
        let policy = CORSPolicy(.listed(["http://a.test"]))
        let granted = policy.headers(origin: "http://a.test")
        #expect(granted.first { $0.0 == "Access-Control-Allow-Origin" }?.1 == "http://a.test")
        #expect(granted.contains { $0 == ("Vary", "Origin") })
        let other = policy.headers(origin: "http://b.test")
        #expect(!other.contains { $0.0.hasPrefix("Access-Control-") })
        #expect(other.contains { $0 == ("Vary", "Origin") })
        #expect(CORSPolicy(.none).headers(origin: "http://a.test").isEmpty)
    }

    @Test func aPreflight_namesTheMethodsHeadersAndMaxAge_onlyForAGrantedOrigin() {
        let methods = ["GET", "DELETE", "HEAD", "OPTIONS"]
        let granted = CORSPolicy(.any).preflight(origin: "http://a.test", requestsMethod: true, methods: methods)
        #expect(granted.status == 204)
        #expect(granted.header("Access-Control-Allow-Origin") == "*")
        #expect(granted.header("Access-Control-Allow-Methods") == "GET, DELETE, HEAD, OPTIONS")
        #expect(granted.header("Access-Control-Allow-Headers") == "Content-Type, Authorization, Last-Event-ID, Prefer")
        #expect(granted.header("Access-Control-Max-Age") == "3600")
        let refused = CORSPolicy(.listed(["http://a.test"])).preflight(origin: "http://b.test", requestsMethod: true, methods: methods)
        #expect(refused.status == 204)
        #expect(refused.header("Allow") == "GET, DELETE, HEAD, OPTIONS")
        #expect(!refused.headers.contains { $0.0.hasPrefix("Access-Control-") })
        let off = CORSPolicy(.none).preflight(origin: "http://a.test", requestsMethod: true, methods: methods)
        #expect(!off.headers.contains { $0.0.hasPrefix("Access-Control-") })
    }
}

@Suite("CORS over HTTP")
struct CORSServerTests {
    static let origin = ("Origin", "http://elsewhere.test:9000")

    private func preflight(_ server: LabTestServer, _ path: String, method: String) async throws -> HTTPTestResponse {
        try await server.request(
            "OPTIONS", path,
            headers: [Self.origin, ("Access-Control-Request-Method", method), ("Access-Control-Request-Headers", "content-type")])
    }

    /// Every route of the table is preflighted from its own entry: no route of its own for OPTIONS.
    @Test func everyRoute_answersItsPreflight_withTheMethodsItsPathAllows() async throws {
        try await LabTestServer.with { server in
            for route in LabApplication.routes.routes {
                let path = route.template.path(["id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "gather"])
                let response = try await preflight(server, path, method: route.method)
                #expect(response.status == 204, "\(path)")
                let methods = response.header("Access-Control-Allow-Methods")?.components(separatedBy: ", ") ?? []
                #expect(methods.contains(route.method), "\(route.method) \(path): \(methods)")
                #expect(methods.contains("OPTIONS"))
                #expect(response.header("Allow") == response.header("Access-Control-Allow-Methods"))
                #expect(response.header("Access-Control-Allow-Origin") == "*")
                #expect(response.header("Access-Control-Allow-Headers")?.contains("Last-Event-ID") == true)
                #expect(response.header("Access-Control-Max-Age") == "3600")
            }
            #expect(try await preflight(server, "/no/such/path", method: "GET").status == 404)
        }
    }

    @Test func launchCancelAndErrors_carryTheGrant_forEveryMethod() async throws {
        try await LabTestServer.with { server in
            let launched = try await server.request(
                "POST", "/patterns/gather/runs", json: ["count": 1, "delay_ms": 60_000], headers: [Self.origin])
            #expect(launched.status == 201)
            #expect(launched.header("Access-Control-Allow-Origin") == "*")
            #expect(launched.header("Access-Control-Expose-Headers")?.contains("Location") == true)
            let id = try #require(launched.json?["id"]?.stringValue)
            let cancelled = try await server.request("DELETE", "/runs/\(id)", headers: [Self.origin])
            #expect(cancelled.status == 202)
            #expect(cancelled.header("Access-Control-Allow-Origin") == "*")
            let invalid = try await server.request("POST", "/patterns/gather/runs", json: ["count": -1], headers: [Self.origin])
            #expect(invalid.status == 422)
            #expect(invalid.header("Access-Control-Allow-Origin") == "*")
            #expect(try await server.request("PUT", "/runs", headers: [Self.origin]).header("Access-Control-Allow-Origin") == "*")
        }
    }

    /// The HTTP layer's own refusals (here 413, answered before the body is read) carry the
    /// grant too, so a page on another origin can read why it was refused.
    @Test func theHTTPLayersOwnRefusals_carryTheGrant() async throws {
        let configuration = LabTestServer.configuration { $0.server.maxBodyBytes = 1_024 }
        try await LabTestServer.with(configuration) { server in
            let body = Array(repeating: UInt8(ascii: " "), count: 4_096)
            let response = try await server.client().request(
                "POST", "/patterns/gather/runs", headers: [Self.origin, ("Content-Type", "application/json")], body: body)
            #expect(response.status == 413)
            #expect(response.header("Access-Control-Allow-Origin") == "*")
        }
    }

    @Test func aList_grantsOnlyItsOrigins_andNoneGrantsNothing() async throws {
        let listed = LabTestServer.configuration { $0.cors = CORSPolicy(.listed(["http://elsewhere.test:9000"])) }
        try await LabTestServer.with(listed) { server in
            let granted = try await server.request("GET", "/healthz", headers: [Self.origin])
            #expect(granted.header("Access-Control-Allow-Origin") == "http://elsewhere.test:9000")
            #expect(granted.header("Vary") == "Origin")
            let other = try await server.request("GET", "/healthz", headers: [("Origin", "http://other.test")])
            #expect(other.header("Access-Control-Allow-Origin") == nil)
            let otherPreflight = try await server.request(
                "OPTIONS", "/runs", headers: [("Origin", "http://other.test"), ("Access-Control-Request-Method", "GET")])
            #expect(otherPreflight.status == 204)
            #expect(otherPreflight.header("Access-Control-Allow-Origin") == nil)
        }
        let off = LabTestServer.configuration { $0.cors = CORSPolicy(.none) }
        try await LabTestServer.with(off) { server in
            let response = try await server.request("GET", "/healthz", headers: [Self.origin])
            #expect(response.status == 200)
            #expect(!response.headers.contains { $0.0.lowercased().hasPrefix("access-control-") })
            let preflight = try await preflight(server, "/runs", method: "GET")
            #expect(preflight.header("Allow") == "GET, HEAD, OPTIONS")
            #expect(preflight.header("Access-Control-Allow-Origin") == nil)
        }
    }

    /// A preflight carries no credentials: it is answered even when the server wants a token.
    @Test func aPreflight_needsNoToken_butTheRequestItClearsDoes() async throws {
        let configuration = LabTestServer.configuration { $0.apiToken = "s3cret" }
        try await LabTestServer.with(configuration) { server in
            let response = try await preflight(server, "/patterns/gather/runs", method: "POST")
            #expect(response.status == 204)
            #expect(response.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
            let refused = try await server.request("POST", "/patterns/gather/runs", json: [:], headers: [Self.origin])
            #expect(refused.status == 401)
            #expect(refused.header("Access-Control-Allow-Origin") == "*")
            #expect(refused.header("Access-Control-Allow-Credentials") == nil)
        }
    }
}
