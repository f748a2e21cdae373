import Synchronization

/// Request ids: the client's `X-Request-Id` when it is sane, otherwise a fresh one.
///
/// A generated id is a random 6-hex-digit prefix chosen per server plus a counter in 8 hex
/// digits (`3fa9c2-0000001a`): unique within a run, distinguishable across restarts, and 15
/// bytes, which Swift stores inline, so making one allocates nothing.
final class RequestIDGenerator: Sendable {
    /// The longest client-supplied id accepted as is.
    static let maximumLength = 128

    private let prefix = UInt32.random(in: 0..<(1 << 24))
    private let counter = Atomic<UInt32>(0)

    /// The client's id if it is acceptable, otherwise a new one.
    func id(echoing clientID: String?) -> String {
        if let clientID, RequestIDGenerator.isAcceptable(clientID) { return clientID }
        return next()
    }

    /// Written digit by digit into the string's own storage: this runs once per request on the
    /// fast path, where formatting and concatenating strings cost more than the rest of it.
    func next() -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let prefix = prefix
        return String(unsafeUninitializedCapacity: 15) { bytes in
            for index in 0..<6 { bytes[index] = Self.hexDigit(prefix >> (20 - 4 * index)) }
            bytes[6] = UInt8(ascii: "-")
            for index in 0..<8 { bytes[7 + index] = Self.hexDigit(number >> (28 - 4 * index)) }
            return 15
        }
    }

    /// 1 to 128 visible ASCII characters (no spaces or controls): safe to echo in a header and
    /// to write in a log line.
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= maximumLength else { return false }
        return utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    private static func hexDigit(_ value: UInt32) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0xF)
        return nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
