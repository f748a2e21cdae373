import Foundation
import Logging
import Synchronization

/// Log lines to stderr, written in batches: the access log writes a line per request, and
/// a `write(2)` per line (swift-log's `StreamLogHandler` on unbuffered stderr) halved the
/// server's throughput. Lines at `notice` and above are written at once (start-up, the
/// bound port, shutdown, errors); lower ones within `interval`, or when 64 KiB pile up.
public final class LogSink: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var second = -1
        var secondText = ""
    }

    private let state = Mutex(State())
    private let interval: Duration

    public init(interval: Duration = .milliseconds(100)) {
        self.interval = interval
        Thread.detachNewThread { [self] in
            while true {
                Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
                flush()
            }
        }
    }

    public func append(_ line: String, urgent: Bool) {
        let full = state.withLock { state -> Bool in
            state.pending.append(contentsOf: line.utf8)
            return state.pending.count >= 64 * 1024
        }
        if urgent || full { flush() }
    }

    public func flush() {
        let bytes = state.withLock { state -> [UInt8] in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return state.pending
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// `2026-11-21T22:37:27+0000`, formatted once per second.
    func timestamp() -> String {
        var now = time(nil)
        return state.withLock { state in
            Self.refreshTimestamp(&state, now: &now)
            return state.secondText
        }
    }

    /// Appends the timestamp, then whatever `body` writes, under one lock.
    func appendLine(_ body: (inout [UInt8]) -> Void) {
        var now = time(nil)
        let full = state.withLock { state -> Bool in
            Self.refreshTimestamp(&state, now: &now)
            state.pending.appendBytes(of: state.secondText)
            body(&state.pending)
            return state.pending.count >= 64 * 1024
        }
        if full { flush() }
    }

    private static func refreshTimestamp(_ state: inout State, now: inout time_t) {
        guard state.second != now else { return }
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [UInt8](repeating: 0, count: 32)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 32) {
                strftime($0, 32, "%Y-%m-%dT%H:%M:%S+0000", &parts)
            }
        }
        state.second = now
        state.secondText = String(decoding: buffer[..<length], as: UTF8.self)
    }
}

/// The access log, one line per request, formatted straight into the pending batch: the same
/// line `BufferedLogHandler` writes for `logger.info("request", metadata: ...)` from MicroHTTP,
/// without building (and sorting) a metadata dictionary per request, which cost a fifth of
/// the server's time on GET /healthz.
public struct AccessLogLines: AccessLogWriter {
    let sink: LogSink
    /// `" info concurrency-lab: "`, after the timestamp.
    let prefix: [UInt8]

    public init(sink: LogSink, label: String) {
        self.sink = sink
        prefix = Array(" \(Logger.Level.info.rawValue) \(label): ".utf8)
    }

    public func write(_ entry: AccessLogEntry) {
        sink.appendLine { line in
            line.append(contentsOf: prefix)
            entry.appendFields(to: &line)
            line.appendBytes(of: " [MicroHTTP] request\n")
        }
    }
}

/// A swift-log handler writing `TIME LEVEL LABEL: key=value ... MESSAGE` lines to a `LogSink`.
public struct BufferedLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String, sink: LogSink, logLevel: Logger.Level = .info) {
        self.label = label
        self.sink = sink
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = event.metadata.map { metadata.merging($0) { _, new in new } } ?? metadata
        var text = sink.timestamp() + " " + event.level.rawValue + " " + label + ":"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { text += " \(key)=\(value)" }
        text += " [\(event.source)] \(event.message)\n"
        sink.append(text, urgent: event.level >= .notice)
    }
}
