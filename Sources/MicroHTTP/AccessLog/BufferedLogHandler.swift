import CMicroHTTPD
import Foundation
import Logging
import Synchronization

/// Log lines to stderr, written in batches: the access log writes a line per request, and
/// a `write(2)` per line (swift-log's `StreamLogHandler` on unbuffered stderr) halved the
/// server's throughput. Lines at `notice` and above are written at once (start-up, the
/// bound port, shutdown, errors); lower ones within `interval`, or when 64 KiB pile up in
/// one thread's buffer.
///
/// Each thread appends to a buffer of its own (one of `shardCount`, by `ThreadSlot`): with
/// one buffer the two MHD workers took turns at its lock and its cache lines, once per
/// request each. So lines written by one thread keep their order; lines written by different
/// threads within one batch come out grouped by thread (their timestamps are to the second).
public final class LogSink: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var second = -1
        /// The second's timestamp, 24 bytes held inline (an array here was retained and
        /// released with every line).
        var secondText = Timestamp()
    }

    /// One thread's buffer. The padding keeps two shards' locks and buffer headers off one
    /// cache line, whatever the allocator puts next to each.
    private final class Shard: Sendable {
        let state = Mutex(State())
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// `2026-11-21T22:37:27+0000` as bytes, in place.
    struct Timestamp {
        var bytes: (
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0

        init() {}

        /// The first 24 bytes of `text` (a timestamp in this format is 24 bytes long).
        init(_ text: ArraySlice<UInt8>) {
            count = min(text.count, MemoryLayout.size(ofValue: bytes))
            withUnsafeMutableBytes(of: &bytes) { $0.copyBytes(from: text.prefix(count)) }
        }

        func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            // A tuple of UInt8 is laid out as UInt8 elements: its memory is bound to UInt8.
            withUnsafeBytes(of: bytes) { body(UnsafeBufferPointer(rebasing: $0.assumingMemoryBound(to: UInt8.self)[..<count])) }
        }
    }

    /// Threads beyond this many share buffers (still correct, only contended).
    static let shardCount = 16
    private let shards: [Shard] = (0..<LogSink.shardCount).map { _ in Shard() }
    /// Held while a batch is written, so two flushes never interleave their bytes.
    private let writing = Mutex(())
    private let descriptor: Int32
    private let interval: Duration
    /// A batch is written once this much piles up in one buffer.
    static let batchBytes = 64 * 1024

    /// Writes to `descriptor` (stderr; the tests give a file), from a thread named
    /// `lab-log` that wakes every `interval`.
    public init(interval: Duration = .milliseconds(100), descriptor: Int32 = STDERR_FILENO) {
        self.interval = interval
        self.descriptor = descriptor
        Thread.detachNewThread { [self] in
            cmhd_set_current_thread_name("lab-log")
            while true {
                Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
                flush()
            }
        }
    }

    /// The calling thread's buffer.
    private var shard: Shard { shards[ThreadSlot.current % Self.shardCount] }

    public func append(_ line: String, urgent: Bool) {
        let full = shard.state.withLock { state -> Bool in
            state.pending.append(contentsOf: line.utf8)
            return state.pending.count >= Self.batchBytes
        }
        if urgent || full { flush() }
    }

    /// Writes every buffer's lines, buffer by buffer.
    public func flush() {
        writing.withLock { _ in
            for shard in shards {
                let bytes = shard.state.withLock { state -> [UInt8] in
                    guard !state.pending.isEmpty else { return [] }
                    defer { state.pending.removeAll(keepingCapacity: true) }
                    return state.pending
                }
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { break }
                    offset += written
                }
            }
        }
    }

    /// `2026-11-21T22:37:27+0000`, formatted once per second.
    func timestamp() -> String {
        var now = time(nil)
        return shard.state.withLock { state in
            Self.refreshTimestamp(&state, now: &now)
            return state.secondText.withBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Appends a line: the timestamp, then what `text` writes. `text` writes outside the lock,
    /// into a buffer on the stack (into an array when the line is longer than it), and the
    /// lock is held for two copies: the MHD threads log every request through here.
    func appendLine(_ text: some LineText) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.stackLineBytes) { buffer in
            var line = FixedLineOutput(UnsafeMutableRawBufferPointer(buffer))
            text.write(to: &line)
            if line.overflowed {
                var long: [UInt8] = []
                text.write(to: &long)
                long.withUnsafeBytes { append(timestampedLine: $0) }
            } else {
                append(timestampedLine: line.written)
            }
        }
    }

    /// Lines up to this long are formatted on the stack; longer ones (a long path or request
    /// id) in an array.
    static let stackLineBytes = 512

    private func append(timestampedLine line: UnsafeRawBufferPointer) {
        var now = time(nil)
        let full = shard.state.withLock { state -> Bool in
            Self.refreshTimestamp(&state, now: &now)
            state.secondText.withBytes { state.pending.append(contentsOf: $0) }
            // As typed bytes: an array appends those with one copy.
            state.pending.append(contentsOf: line.assumingMemoryBound(to: UInt8.self))
            return state.pending.count >= Self.batchBytes
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
        state.secondText = Timestamp(buffer[..<length])
    }
}

/// A small number per thread, given out in the order threads first ask (0, 1, 2, ...), read
/// back from a pthread key: what a thread uses to pick its own buffer (`LogSink`).
enum ThreadSlot {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create")
        return key
    }()
    private static let next = Atomic<Int>(0)

    static var current: Int {
        let key = key
        if let stored = pthread_getspecific(key) { return Int(bitPattern: stored) - 1 }
        let slot = next.add(1, ordering: .relaxed).oldValue
        // Stored plus one: a thread that has none reads nil.
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot + 1))
        return slot
    }
}

/// A line's text after its timestamp, written as many times as asked (`LogSink.appendLine`
/// writes it again into an array when it outgrows the stack buffer).
protocol LineText {
    func write(to line: inout some LineOutput)
}

/// The access log, one line per request, formatted on the stack and copied into the pending
/// batch (`LogSink.appendLine`): the same
/// line `BufferedLogHandler` writes for `logger.info("request", metadata: ...)` from MicroHTTP,
/// without building (and sorting) a metadata dictionary per request, which cost a fifth of
/// the server's time on GET /healthz.
public final class AccessLogLines: AccessLogWriter {
    let sink: LogSink
    /// `" info concurrency-lab: "`, after the timestamp.
    let prefix: [UInt8]

    public init(sink: LogSink, label: String) {
        self.sink = sink
        prefix = Array(" \(Logger.Level.info.rawValue) \(label): ".utf8)
    }

    public func write(_ entry: AccessLogEntry) {
        prefix.withUnsafeBytes { prefix in sink.appendLine(Line(prefix: prefix, entry: entry)) }
    }

    /// Borrows the prefix's bytes for the call: the array is shared by every thread, and a copy
    /// per line would write its reference count from each.
    private struct Line: LineText {
        let prefix: UnsafeRawBufferPointer
        let entry: AccessLogEntry

        func write(to line: inout some LineOutput) {
            line.write(bytes: prefix)
            entry.appendFields(to: &line)
            line.write(" [MicroHTTP] request\n")
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
