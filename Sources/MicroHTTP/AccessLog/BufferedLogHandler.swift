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
/// Each thread appends to a ring of its own (`Ring`), without a lock: the MHD workers log
/// every request. With a lock per buffer, the unlock's locked instruction waited for the
/// line's stores to reach the cache, and that wait was most of what appending cost. So lines
/// written by one thread keep their order; lines written by different threads within one batch
/// come out grouped by thread (their timestamps are to the second).
public final class LogSink: Sendable {
    /// One thread's lines waiting to be written.
    ///
    /// Invariant: `head` and `tail` count the bytes ever appended and ever written (byte `i`
    /// lives at `i % capacity`), `tail <= head <= tail + capacity`. Only the owning thread
    /// writes `head`, and the bytes from `head` up to `tail + capacity`; only a flush, under
    /// `writing`, writes `tail`, and reads the bytes from `tail` to `head`. `head` is stored
    /// (releasing) after the bytes it covers, `tail` (releasing) after the write that read
    /// them, and each side loads the other's index acquiring: neither reads bytes the other is
    /// still writing.
    final class Ring: @unchecked Sendable {
        /// Keeps the indices off the cache line of whatever the allocator put before the ring
        /// (another thread's ring: the two workers would write one line per request).
        private let leading: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
        let head = Atomic<Int>(0)
        let tail = Atomic<Int>(0)
        /// Set when the owning thread has ended: the next flush writes what is left and lets
        /// the ring go.
        let retired = Atomic<Bool>(false)
        let storage: UnsafeMutableRawPointer
        /// The owning thread's own: the second its timestamp is for, and its text.
        var second = -1
        var secondText = Timestamp()
        private let trailing: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

        static let capacity = 128 * 1024

        init() {
            storage = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 64)
        }

        deinit { storage.deallocate() }

        /// The owning thread's append of `first` then `second`: the bytes now waiting, or nil
        /// when the two do not fit beside what is waiting.
        func append(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int? {
            let head = head.load(ordering: .relaxed)
            let tail = tail.load(ordering: .acquiring)
            let end = head + first.count + second.count
            guard end - tail <= Self.capacity else { return nil }
            copy(first, at: head)
            copy(second, at: head + first.count)
            self.head.store(end, ordering: .releasing)
            return end - tail
        }

        private func copy(_ bytes: UnsafeRawBufferPointer, at index: Int) {
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
            let offset = index % Self.capacity
            let first = min(bytes.count, Self.capacity - offset)
            (storage + offset).copyMemory(from: source, byteCount: first)
            if first < bytes.count { storage.copyMemory(from: source + first, byteCount: bytes.count - first) }
        }

        /// A flush's part, under `writing`: hands the waiting bytes to `write` (in two pieces
        /// when they wrap), then frees their room.
        func drain(_ write: (UnsafeRawBufferPointer) -> Void) {
            let tail = tail.load(ordering: .relaxed)
            let head = head.load(ordering: .acquiring)
            guard head > tail else { return }
            let offset = tail % Self.capacity
            let first = min(head - tail, Self.capacity - offset)
            write(UnsafeRawBufferPointer(start: storage + offset, count: first))
            if first < head - tail { write(UnsafeRawBufferPointer(start: storage, count: head - tail - first)) }
            self.tail.store(head, ordering: .releasing)
        }
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

        func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
            withUnsafeBytes(of: bytes) { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }

    /// Every thread's ring, the ended ones until a flush has written them out.
    private let rings = Mutex<[Ring]>([])
    /// Where each thread finds its ring (retained there; released when the thread ends).
    private let key: pthread_key_t
    /// Held while a batch is written, so two flushes never interleave their bytes, and a ring
    /// has one reader at a time.
    private let writing = Mutex(())
    private let descriptor: Int32
    private let interval: Duration
    /// A thread writes the batch itself once this much piles up in its ring.
    static let batchBytes = 64 * 1024

    /// Writes to `descriptor` (stderr; the tests give a file), from a thread named
    /// `lab-log` that wakes every `interval`.
    public init(interval: Duration = .milliseconds(100), descriptor: Int32 = STDERR_FILENO) {
        self.interval = interval
        self.descriptor = descriptor
        var key = pthread_key_t()
        // A thread that ends leaves its ring to the next flush.
        precondition(pthread_key_create(&key, { ring in
            guard let ring else { return }
            Unmanaged<Ring>.fromOpaque(ring).takeRetainedValue().retired.store(true, ordering: .releasing)
        }) == 0, "pthread_key_create")
        self.key = key
        Thread.detachNewThread { [self] in
            cmhd_set_current_thread_name("lab-log")
            while true {
                Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
                flush()
            }
        }
    }

    /// Runs `body` with the calling thread's ring, made on its first line. The thread's
    /// reference (held by its key) keeps the ring alive, so `body` borrows it without a retain
    /// and release of its own: two atomic writes on every request's line.
    private func withRing<Result>(_ body: (Ring) -> Result) -> Result {
        if let stored = pthread_getspecific(key) {
            return Unmanaged<Ring>.fromOpaque(stored)._withUnsafeGuaranteedRef(body)
        }
        let ring = Ring()
        rings.withLock { $0.append(ring) }
        pthread_setspecific(key, Unmanaged.passRetained(ring).toOpaque())
        return body(ring)
    }

    /// Rings in use, the ended threads' included until a flush has written them out.
    var ringCount: Int { rings.withLock { $0.count } }

    /// Rings whose thread has ended, waiting for a flush.
    var retiredRingCount: Int { rings.withLock { $0.count { $0.retired.load(ordering: .acquiring) } } }

    public func append(_ line: String, urgent: Bool) {
        var line = line
        line.withUTF8 { append(UnsafeRawBufferPointer($0), timestamped: false, urgent: urgent) }
    }

    /// Writes every ring's lines, ring by ring, and lets go of the rings of ended threads.
    public func flush() {
        writing.withLock { _ in
            for ring in rings.withLock({ $0 }) {
                // Read before draining: a ring retired by then has had its last line.
                let retired = ring.retired.load(ordering: .acquiring)
                ring.drain { writeAll($0) }
                if retired { rings.withLock { $0.removeAll { $0 === ring } } }
            }
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            // A closed or failing stderr: what is left of the batch is dropped, never retried
            // (the lines must not pile up in the rings).
            guard written > 0 else { return }
            offset += written
        }
    }

    /// `2026-11-21T22:37:27+0000`, formatted once per second.
    func timestamp() -> String {
        withRing { ring in
            Self.refreshTimestamp(ring)
            return ring.secondText.withBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Appends a line: the timestamp, then what `text` writes. `text` writes into a buffer on
    /// the stack (into an array when the line is longer than it), which is copied into the
    /// thread's ring: the MHD threads log every request through here.
    func appendLine(_ text: some LineText) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.stackLineBytes) { buffer in
            var line = FixedLineOutput(UnsafeMutableRawBufferPointer(buffer))
            text.write(to: &line)
            if line.overflowed {
                var long: [UInt8] = []
                text.write(to: &long)
                long.withUnsafeBytes { append($0, timestamped: true, urgent: false) }
            } else {
                append(line.written, timestamped: true, urgent: false)
            }
        }
    }

    /// Lines up to this long are formatted on the stack; longer ones (a long path or request
    /// id) in an array.
    static let stackLineBytes = 512

    private func append(_ line: UnsafeRawBufferPointer, timestamped: Bool, urgent: Bool) {
        let waiting = withRing { ring in
            var stamp = Timestamp()
            if timestamped {
                Self.refreshTimestamp(ring)
                stamp = ring.secondText
            }
            return stamp.withBytes { stamp in
                if let waiting = ring.append(stamp, line) { return waiting }
                // No room beside what waits: write that out, then try again. A line longer
                // than the ring is written by itself, after everything before it.
                flush()
                if let waiting = ring.append(stamp, line) { return waiting }
                writing.withLock { _ in
                    writeAll(stamp)
                    writeAll(line)
                }
                return 0
            }
        }
        if urgent { flush() } else if waiting >= Self.batchBytes { flushOwnRing() }
    }

    /// Writes the calling thread's ring only: its lines are still in this core's cache, and
    /// the other threads' rings are left to their own threads and to `lab-log`.
    private func flushOwnRing() {
        withRing { ring in writing.withLock { _ in ring.drain { writeAll($0) } } }
    }

    /// The owning thread's timestamp, formatted again when the second has changed.
    private static func refreshTimestamp(_ ring: Ring) {
        var now = time(nil)
        guard ring.second != now else { return }
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [UInt8](repeating: 0, count: 32)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 32) {
                strftime($0, 32, "%Y-%m-%dT%H:%M:%S+0000", &parts)
            }
        }
        ring.second = now
        ring.secondText = Timestamp(buffer[..<length])
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
