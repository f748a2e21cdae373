import Logging
import MicroHTTP
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("Access log")
struct AccessLogTests {
    @Test func everyRequest_writesOneStructuredLine() async throws {
        let sink = CapturedLogs()
        let handler = TestHandler(
            immediate: { request in request.path == "/fast" ? .text("12345") : nil },
            async: { _ in .text(status: 404, "Not Found") }
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

extension AccessLogTests {
    /// The thread that writes the batches shows as "lab-log" in `top -H` and `perf`. (It lives
    /// as long as the process, as every sink's does; this one wakes once a minute.) No other
    /// thread of the process takes that name.
    @Test func theSinksWriterThread_isNamedLabLog() {
        _ = LogSink(interval: .seconds(60))
        for _ in 0..<50 where !processThreadNames().contains("lab-log") { usleep(10_000) }
        #expect(processThreadNames().contains("lab-log"))
    }

    final class CapturingWriter: AccessLogWriter {
        let entries = Mutex<[AccessLogEntry]>([])
        func write(_ entry: AccessLogEntry) { entries.withLock { $0.append(entry) } }
    }

    @Test func aWriter_receivesEveryEntry_insteadOfTheLogger() async throws {
        let logs = CapturedLogs()
        let writer = CapturingWriter()
        let handler = TestHandler(immediate: { _ in .text("abc") }, async: { _ in .text("") })
        try await withServer({ configuration in
            configuration.logger = Logger(label: "test") { _ in CapturingLogHandler(sink: logs) }
            configuration.accessLogWriter = writer
        }, handler: handler) { server in
            let client = try HTTPTestClient(port: server.port)
            _ = try await client.request("GET", "/a?x=1", headers: [("X-Request-Id", "w-1")])
            _ = try await client.request("GET", "/b")
            _ = try await client.request("GET", "/c")
            let entries = writer.entries.withLock { $0 }
            let first = entries.first { $0.requestID == "w-1" }
            #expect(first?.path == "/a")
            #expect(first?.method == "GET")
            #expect(first?.status == 200)
            #expect(first?.bytes == 3)
            #expect(first?.remoteAddress?.hasPrefix("127.0.0.1:") == true)
            #expect(!logs.lines.contains { $0.message == "request" })
        }
    }

    @Test func fields_areWrittenInKeyOrder_likeSortedMetadata() {
        let entry = AccessLogEntry(
            method: "POST", path: "/runs", status: 201, durationMs: 12.0456, requestID: "r-9", bytes: 1024,
            remoteAddress: nil)
        var line: [UInt8] = []
        entry.appendFields(to: &line)
        let text = String(decoding: line, as: UTF8.self)
        #expect(text == "bytes=1024 duration_ms=12.046 method=POST path=/runs remote=- request_id=r-9 status=201")
        let fromMetadata = entry.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        #expect(text == fromMetadata)
        var small: [UInt8] = []
        AccessLogEntry(method: "GET", path: "/", status: 200, durationMs: 0.004, requestID: "x", bytes: 0, remoteAddress: "a")
            .appendFields(to: &small)
        #expect(String(decoding: small, as: UTF8.self).contains("duration_ms=0.004 "))
    }
}

extension AccessLogTests {
    /// The sink formats a line into a stack buffer and, when it does not fit, again into an
    /// array (`LogSink.appendLine`): the buffer must say so, and must not keep half a write.
    @Test func aFixedLine_writesWithinItsCapacity_andSaysWhenItOverflows() {
        withUnsafeTemporaryAllocation(byteCount: 8, alignment: 1) { buffer in
            var line = FixedLineOutput(buffer)
            line.write("abc")
            line.writeDecimal(-42)
            #expect(String(decoding: line.written, as: UTF8.self) == "abc-42")
            #expect(!line.overflowed)
            line.write("xyz")
            #expect(line.overflowed)
            #expect(String(decoding: line.written, as: UTF8.self) == "abc-42")
        }
    }

    @Test func fields_areTheSame_inAFixedLineAndInAnArray() {
        let entry = AccessLogEntry(
            method: "DELETE", path: "/runs/r-1", status: 202, durationMs: 1234.5678, requestID: "req-77", bytes: 0,
            remoteAddress: "[::1]:5000")
        var array: [UInt8] = []
        entry.appendFields(to: &array)
        withUnsafeTemporaryAllocation(byteCount: 512, alignment: 1) { buffer in
            var fixed = FixedLineOutput(buffer)
            entry.appendFields(to: &fixed)
            #expect(!fixed.overflowed)
            #expect(Array(fixed.written) == array)
        }
        #expect(String(decoding: array, as: UTF8.self)
            == "bytes=0 duration_ms=1234.568 method=DELETE path=/runs/r-1 remote=[::1]:5000 request_id=req-77 status=202")
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
