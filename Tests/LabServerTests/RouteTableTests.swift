import Foundation
@testable import LabServer
import LabJSON
import Runs
import Testing

@Suite("Route table")
struct RouteTableTests {
    static let table: RouteTable<String> = {
        var table = RouteTable<String>()
        table.add("GET", "/healthz", "health")
        table.add("GET", "/runs", "list")
        table.add("GET", "/runs/{id}", "run")
        table.add("DELETE", "/runs/{id}", "cancel")
        table.add("GET", "/runs/{id}/events", "events")
        table.add("POST", "/patterns/{name}/runs", "launch")
        return table
    }()

    func found(_ method: String, _ path: String) -> (String, [String: String])? {
        guard case .found(let route, let parameters) = Self.table.match(method: method, path: path) else { return nil }
        return (route.handler, parameters)
    }

    @Test func literalPaths_matchByMethod_andHeadFallsBackToGet() {
        #expect(found("GET", "/healthz")?.0 == "health")
        #expect(found("HEAD", "/healthz")?.0 == "health")
        #expect(found("GET", "/runs")?.0 == "list")
        #expect(found("GET", "/runs")?.1.isEmpty == true)
    }

    @Test func literalPath_withTheWrongMethod_isMethodNotAllowed() {
        guard case .methodNotAllowed(let allowed) = Self.table.match(method: "POST", path: "/healthz") else {
            Issue.record("POST /healthz should be 405")
            return
        }
        #expect(allowed == ["GET", "HEAD", "OPTIONS"])
    }

    /// What OPTIONS and CORS preflights answer comes from the routes themselves.
    @Test func methodsAtAPath_areItsRoutes_plusHeadForGet_andOptions() {
        #expect(Self.table.methods(at: "/runs/r-1")?.methods == ["GET", "DELETE", "HEAD", "OPTIONS"])
        #expect(Self.table.methods(at: "/runs/r-1")?.template.description == "/runs/{id}")
        #expect(Self.table.methods(at: "/patterns/gather/runs")?.methods == ["POST", "OPTIONS"])
        #expect(Self.table.methods(at: "/healthz/")?.methods == ["GET", "HEAD", "OPTIONS"])
        #expect(Self.table.methods(at: "/nope") == nil)
    }

    @Test func emptySegments_areIgnored_likeTheSplitMatcher() {
        #expect(found("GET", "/healthz/")?.0 == "health")
        #expect(found("GET", "//runs")?.0 == "list")
    }

    @Test func parameters_areCaptured() {
        #expect(found("GET", "/runs/r-1")?.0 == "run")
        #expect(found("GET", "/runs/r-1")?.1 == ["id": "r-1"])
        #expect(found("DELETE", "/runs/r-1")?.0 == "cancel")
        #expect(found("GET", "/runs/r-1/events")?.1 == ["id": "r-1"])
        #expect(found("POST", "/patterns/gather/runs")?.1 == ["name": "gather"])
    }

    @Test func unknownPaths_areNotFound() {
        guard case .notFound = Self.table.match(method: "GET", path: "/nope") else {
            Issue.record("GET /nope should be 404")
            return
        }
        guard case .notFound = Self.table.match(method: "GET", path: "/runs/a/b/c") else {
            Issue.record("GET /runs/a/b/c should be 404")
            return
        }
    }
}

@Suite("Media types")
struct MediaTypeTests {
    @Test(arguments: [
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("  application/x-www-form-urlencoded \t;x=1", "application/x-www-form-urlencoded"),
        ("text/plain;", "text/plain"),
        (";", ""),
        ("", ""),
    ])
    func mediaType_isTheTypeBeforeParameters_trimmedAndLowercased(header: String, expected: String) {
        #expect(RunInputDecoder.mediaType(header) == expected)
    }

    /// Links are made from the templates the routes are served at, so every link a run carries
    /// is answered by the route it names.
    @Test func runLinks_leadToTheRoutesTheyName() {
        let links = ResourcePaths.runLinks
        let record = RunRecord(id: "01ABC", pattern: "gather", params: [:], status: .running, createdAt: .now)
        let json = record.json(links: links)["links"]
        #expect(json?["self"] == "/runs/01ABC")
        #expect(json?["events"] == "/runs/01ABC/events")
        for (method, path, endpoint) in [("GET", "/runs/01ABC", LabApplication.Endpoint.run), ("DELETE", "/runs/01ABC", .cancel),
                                         ("GET", "/runs/01ABC/events", .events)] {
            guard case .found(let route, let parameters) = LabApplication.routes.match(method: method, path: path) else {
                Issue.record("\(method) \(path) is not routed")
                continue
            }
            #expect(route.handler == endpoint)
            #expect(parameters == ["id": "01ABC"])
        }
    }
}
