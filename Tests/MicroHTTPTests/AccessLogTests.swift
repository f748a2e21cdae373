import Logging
import MicroHTTP
import Synchronization
import Testing
import TestSupport

@Suite("Access log")
struct AccessLogTests {
    @Test func everyRequest_writesOneStructuredLine() async throws {
        let sink = CapturedLogs()
        let handler = TestHandler(
            immediate: { request in request.path == "/fast" ? .text("12345") : nil },
            async: { _ in .problem(status: 404, title: "Not Found") }
        )
        try await withServer({ configuration in
            configuration.logger = Logger(label: "test") { _ in CapturingLogHandler(sink: sink) }
        }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            _ = try await client.request("GET", "/fast?q=1", headers: [("X-Request-Id", "log-1")])
            _ = try await client.request("POST", "/missing", body: Array("x".utf8))
            // A line is written when libmicrohttpd reports its request complete, after the
            // response went out; it has done so for the second before it serves this third.
            _ = try await client.request("GET", "/fast")
            let lines = sink.lines.filter { $0.message == "request" }
            #expect(lines.count >= 2)
            let fast = lines.first { $0.metadata["request_id"] == "log-1" }
            #expect(fast?.metadata["method"] == "GET")
            #expect(fast?.metadata["path"] == "/fast")
            #expect(fast?.metadata["status"] == "200")
            #expect(fast?.metadata["bytes"] == "5")
            #expect(fast?.metadata["duration_ms"] != nil)
            let missing = lines.first { $0.metadata["path"] == "/missing" }
            #expect(missing?.metadata["method"] == "POST")
            #expect(missing?.metadata["status"] == "404")
        }
    }
}

/// What a `CapturingLogHandler` saw, flattened to strings.
final class CapturedLogs: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let storage = Mutex<[Line]>([])

    func append(_ line: Line) { storage.withLock { $0.append(line) } }
    var lines: [Line] { storage.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.append(.init(
            level: event.level, message: event.message.description,
            metadata: merged.mapValues { $0.description }
        ))
    }
}
