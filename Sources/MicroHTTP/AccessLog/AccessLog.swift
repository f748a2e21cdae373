import Logging

/// One request as the access log records it.
public struct AccessLogEntry: Sendable {
    public var method: String
    /// The raw path, without the query.
    public var path: Substring
    public var status: Int
    public var durationMs: Double
    public var requestID: String
    public var bytes: Int
    public var remoteAddress: String?

    public init(
        method: String, path: Substring, status: Int, durationMs: Double, requestID: String, bytes: Int,
        remoteAddress: String?
    ) {
        self.method = method
        self.path = path
        self.status = status
        self.durationMs = durationMs
        self.requestID = requestID
        self.bytes = bytes
        self.remoteAddress = remoteAddress
    }

    /// The fields as `key=value` pairs in key order, exactly as a swift-log handler that sorts
    /// metadata writes them: `bytes=15 duration_ms=0.081 method=GET path=/healthz remote=...
    /// request_id=... status=200`. Written straight into `line`: no dictionary, no
    /// interpolation, since this runs once per request.
    public func appendFields(to line: inout some LineOutput) {
        line.write("bytes=")
        line.writeDecimal(bytes)
        line.write(" duration_ms=")
        line.writeMilliseconds(durationMs)
        line.write(" method=")
        line.write(method)
        line.write(" path=")
        line.write(path)
        line.write(" remote=")
        line.write(remoteAddress ?? "-")
        line.write(" request_id=")
        line.write(requestID)
        line.write(" status=")
        line.writeDecimal(status)
    }

    /// The fields as swift-log metadata (what a plain `Logger` receives).
    public var metadata: Logger.Metadata {
        [
            "method": .string(method),
            "path": .string(String(path)),
            "status": .stringConvertible(status),
            "duration_ms": .string(Self.millisecondsText(durationMs)),
            "request_id": .string(requestID),
            "bytes": .stringConvertible(bytes),
            "remote": .string(remoteAddress ?? "-"),
        ]
    }

    private static func millisecondsText(_ value: Double) -> String {
        var bytes: [UInt8] = []
        bytes.writeMilliseconds(value)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Where a log line is written: a growing array, or a fixed buffer (`FixedLineOutput`).
public protocol LineOutput {
    mutating func write(_ byte: UInt8)
    mutating func write(bytes: UnsafeRawBufferPointer)
}

extension LineOutput {
    /// The UTF-8 of `text`, copied in one go when it is stored contiguously (native strings
    /// and literals are): appending a `String.UTF8View` element by element showed in the
    /// access log's profile.
    public mutating func write(_ text: some StringProtocol) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { write(bytes: UnsafeRawBufferPointer($0)) }
        if copied == nil { for byte in text.utf8 { write(byte) } }
    }

    public mutating func writeDecimal(_ value: Int) {
        if value < 0 { write(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // Digits from the right end of a stack buffer, then copied once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            write(bytes: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start...])))
        }
    }

    /// `value` with three decimals.
    public mutating func writeMilliseconds(_ value: Double) {
        let thousandths = Int((value * 1000).rounded())
        writeDecimal(thousandths / 1000)
        write(UInt8(ascii: "."))
        let fraction = abs(thousandths) % 1000
        if fraction < 100 { write(UInt8(ascii: "0")) }
        if fraction < 10 { write(UInt8(ascii: "0")) }
        writeDecimal(fraction)
    }
}

extension [UInt8]: LineOutput {
    public mutating func write(_ byte: UInt8) { append(byte) }
    public mutating func write(bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

/// A line written into memory the caller owns (a stack buffer): no allocation and no checks
/// beyond the bound. Past its capacity it stops writing and says so (`overflowed`); the caller
/// then writes the line again into an array.
public struct FixedLineOutput: LineOutput {
    let base: UnsafeMutableRawPointer?
    let capacity: Int
    public private(set) var count = 0
    public private(set) var overflowed = false

    /// Writes into `buffer` (bound to `UInt8`); an empty buffer overflows at the first byte.
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress
        capacity = buffer.count
    }

    public mutating func write(_ byte: UInt8) {
        guard count < capacity, let base else { overflowed = true; return }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    public mutating func write(bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= capacity - count else { overflowed = true; return }
        if let source = bytes.baseAddress, let base { (base + count).copyMemory(from: source, byteCount: bytes.count) }
        count += bytes.count
    }

    /// What was written.
    public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Where access-log entries go when not through swift-log: a writer that formats them itself
/// (the CLI's batched stderr sink writes each entry straight into its buffer). Called on the
/// connection's MHD thread once per request, so it must be cheap and must not block. A class:
/// the server calls it through one reference, where a struct's fields were copied (and each
/// retained) per request.
public protocol AccessLogWriter: AnyObject, Sendable {
    func write(_ entry: AccessLogEntry)
}

/// One line per request, at level `info`: method, path, status, duration, request id, response
/// bytes and the client's address. When the logger is above `info` nothing is formatted; the
/// request's start is read either way (`Request.received`, which the handler's metrics use).
///
/// A class: `ServerCore` holds one, and a struct read from its `let` was copied whole (logger
/// and writer retained and released) on every request.
final class AccessLog: Sendable {
    let logger: Logger
    let writer: (any AccessLogWriter)?
    let isEnabled: Bool

    init(logger: Logger, writer: (any AccessLogWriter)?) {
        self.logger = logger
        self.writer = writer
        isEnabled = logger.logLevel <= .info
    }

    func record(_ context: ConnectionContext, status: Int) {
        guard isEnabled else { return }
        let entry = AccessLogEntry(
            method: context.method,
            path: context.path[...],
            status: status,
            durationMs: context.started.duration(to: .now).milliseconds,
            requestID: context.requestID,
            bytes: context.stream?.bytesWritten ?? context.responseBytes,
            remoteAddress: context.remoteAddress)
        guard let writer else { return logger.info("request", metadata: entry.metadata) }
        writer.write(entry)
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
