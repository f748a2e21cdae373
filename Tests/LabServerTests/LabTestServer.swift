import Foundation
import LabJSON
import LabServer
import MicroHTTP
import Patterns
import Runs
import TestSupport

/// A real LabServer on 127.0.0.1 and a free port for the duration of one test, then drained.
struct LabTestServer {
    let lab: LabServer
    let port: UInt16

    /// Configuration with test-sized bounds; `adjust` changes what a test needs.
    static func configuration(_ adjust: (inout LabConfiguration) -> Void = { _ in }) -> LabConfiguration {
        var server = ServerConfiguration()
        server.port = 0
        server.requestTimeout = .seconds(20)
        var configuration = LabConfiguration(server: server)
        adjust(&configuration)
        return configuration
    }

    static func with<T: Sendable>(
        _ configuration: LabConfiguration = LabTestServer.configuration(),
        _ body: (LabTestServer) async throws -> T
    ) async throws -> T {
        let lab = try await LabServer(configuration: configuration)
        let port = UInt16(try lab.start())
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await lab.run()
                return nil
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(LabTestServer(lab: lab, port: port)))
            } catch {
                result = .failure(error)
            }
            await lab.shutdown()
            for try await _ in group {}
            return try result.get()
        }
    }

    func client() throws -> HTTPTestClient {
        try HTTPTestClient(port: port, timeout: .seconds(30))
    }

    /// One request on a new connection, JSON body when given.
    func request(
        _ method: String, _ target: String, json: JSONValue? = nil, headers: [(String, String)] = []
    ) async throws -> HTTPTestResponse {
        var headers = headers
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try await client().request(method, target, headers: headers, body: json.map { $0.serializedBytes() })
    }

    /// Launches and waits for the end; returns the run's JSON.
    func runToEnd(_ pattern: String, _ params: JSONValue = [:]) async throws -> JSONValue {
        let response = try await request("POST", "/patterns/\(pattern)/runs?wait=15", json: params)
        return try JSONValue.parse(response.body)
    }

    /// Opens the event stream of `target` (GET) and returns a reader positioned after the head.
    func events(_ target: String, headers: [(String, String)] = []) async throws -> (HTTPTestResponse, SSEReader) {
        let client = try client()
        var head = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try await client.send(head + "\r\n")
        let response = try await client.readHead()
        return (response, SSEReader(client: client))
    }
}

extension HTTPTestResponse {
    var json: JSONValue? { try? JSONValue.parse(body) }
}
