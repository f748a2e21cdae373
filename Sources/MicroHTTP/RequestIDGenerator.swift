import Synchronization

/// Request ids: the client's `X-Request-Id` when it is sane, otherwise a fresh one.
///
/// A generated id is a random 6-hex-digit prefix chosen per server plus a counter in 8 hex
/// digits (`3fa9c2-0000001a`): unique within a run, distinguishable across restarts, and 15
/// bytes, which Swift stores inline, so making one allocates nothing.
final class RequestIDGenerator: Sendable {
    /// The longest client-supplied id accepted as is.
    static let maximumLength = 128

    private let prefix: String
    private let counter = Atomic<UInt32>(0)

    init() {
        let random = UInt32.random(in: 0..<(1 << 24))
        prefix = RequestIDGenerator.hex(random, digits: 6) + "-"
    }

    /// The client's id if it is acceptable, otherwise a new one.
    func id(echoing clientID: String?) -> String {
        if let clientID, RequestIDGenerator.isAcceptable(clientID) { return clientID }
        return next()
    }

    func next() -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + RequestIDGenerator.hex(number, digits: 8)
    }

    /// 1 to 128 visible ASCII characters (no spaces or controls): safe to echo in a header and
    /// to write in a log line.
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= maximumLength else { return false }
        return utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
    }
}
