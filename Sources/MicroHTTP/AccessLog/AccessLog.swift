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
    /// request_id=... status=200`. Appended straight into `line`: no dictionary, no
    /// interpolation, since this runs once per request.
    public func appendFields(to line: inout [UInt8]) {
        line.appendBytes(of: "bytes=")
        Self.appendDecimal(bytes, to: &line)
        line.appendBytes(of: " duration_ms=")
        line.appendMilliseconds(durationMs)
        line.appendBytes(of: " method=")
        line.appendBytes(of: method)
        line.appendBytes(of: " path=")
        line.appendBytes(of: path)
        line.appendBytes(of: " remote=")
        line.appendBytes(of: remoteAddress ?? "-")
        line.appendBytes(of: " request_id=")
        line.appendBytes(of: requestID)
        line.appendBytes(of: " status=")
        Self.appendDecimal(status, to: &line)
    }

    /// The fields as swift-log metadata (what a plain `Logger` receives).
    public var metadata: Logger.Metadata {
        [
            "method": .string(method),
            "path": .string(String(path)),
            "status": .stringConvertible(status),
            "duration_ms": .string(String(decoding: Self.millisecondsText(durationMs), as: UTF8.self)),
            "request_id": .string(requestID),
            "bytes": .stringConvertible(bytes),
            "remote": .string(remoteAddress ?? "-"),
        ]
    }

    static func appendDecimal(_ value: Int, to line: inout [UInt8]) {
        if value < 0 { line.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { line.append(buffer[index]) }
        }
    }

    private static func millisecondsText(_ value: Double) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendMilliseconds(value)
        return bytes
    }
}

extension [UInt8] {
    /// The UTF-8 of `text`, copied in one go when it is stored contiguously (native strings
    /// and literals are): appending a `String.UTF8View` element by element showed in the
    /// access log's profile.
    public mutating func appendBytes(of text: some StringProtocol) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(contentsOf: $0) }
        if copied == nil { append(contentsOf: text.utf8) }
    }

    /// `value` with three decimals.
    fileprivate mutating func appendMilliseconds(_ value: Double) {
        let thousandths = Int((value * 1000).rounded())
        AccessLogEntry.appendDecimal(thousandths / 1000, to: &self)
        append(UInt8(ascii: "."))
        let fraction = abs(thousandths) % 1000
        if fraction < 100 { append(UInt8(ascii: "0")) }
        if fraction < 10 { append(UInt8(ascii: "0")) }
        AccessLogEntry.appendDecimal(fraction, to: &self)
    }
}

/// Where access-log entries go when not through swift-log: a writer that formats them itself
/// (the CLI's batched stderr sink writes each entry straight into its buffer). Called on the
/// connection's MHD thread once per request, so it must be cheap and must not block.
public protocol AccessLogWriter: Sendable {
    func write(_ entry: AccessLogEntry)
}

/// One line per request, at level `info`: method, path, status, duration, request id, response
/// bytes and the client's address. When the logger is above `info` nothing is measured or
/// formatted, so the fast path pays for neither the clock nor the line.
struct AccessLog: Sendable {
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
            path: Request.rawPath(of: context.target),
            status: status,
            durationMs: context.started.map { $0.duration(to: .now).milliseconds } ?? 0,
            requestID: context.requestID,
            bytes: context.stream?.bytesWritten ?? context.responseBytes,
            remoteAddress: context.remoteAddress)
        if let writer {
            writer.write(entry)
        } else {
            logger.info("request", metadata: entry.metadata)
        }
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
