import Logging

/// One structured line per request, at level `info`: method, path, status, duration, request
/// id and response bytes. When the logger is above `info` nothing is measured or formatted, so
/// the fast path pays for neither the clock nor the metadata.
struct AccessLog: Sendable {
    let logger: Logger
    let isEnabled: Bool

    init(logger: Logger) {
        self.logger = logger
        isEnabled = logger.logLevel <= .info
    }

    func record(_ context: ConnectionContext, status: Int) {
        guard isEnabled else { return }
        let bytes = context.stream?.bytesWritten ?? context.responseBytes
        let durationMs = context.started.map { $0.duration(to: .now).milliseconds } ?? 0
        logger.info("request", metadata: [
            "method": .string(context.method),
            "path": .string(String(Request.splitTarget(context.target).path)),
            "status": .stringConvertible(status),
            "duration_ms": .string(String(format3: durationMs)),
            "request_id": .string(context.requestID),
            "bytes": .stringConvertible(bytes),
            "remote": .string(context.remoteAddress ?? "-"),
        ])
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

extension String {
    /// `value` with three decimals, without Foundation.
    fileprivate init(format3 value: Double) {
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(abs(thousandths) % 1000)
        self = String(thousandths / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
