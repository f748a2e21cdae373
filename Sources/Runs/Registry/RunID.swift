import Synchronization

/// Run ids are ULIDs (Crockford base32, 26 characters): 48 bits of milliseconds since the
/// epoch, then 80 bits that start random and count up within the same millisecond. So ids
/// sort by creation, which makes them the cursor of `GET /runs`, and never repeat in a process.
public final class RunIDGenerator: Sendable {
    private struct State {
        var lastMillis: UInt64 = 0
        var high: UInt16 = 0
        var low: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func next(millisecondsSinceEpoch now: UInt64) -> String {
        let (millis, high, low) = state.withLock { state in
            if now > state.lastMillis {
                state.lastMillis = now
                state.high = UInt16.random(in: 0...0x7FFF)  // headroom to count up
                state.low = UInt64.random(in: 0...UInt64.max)
            } else {
                // Same (or an earlier) millisecond: keep the last time, count up.
                let (sum, overflow) = state.low.addingReportingOverflow(1)
                state.low = sum
                if overflow { state.high &+= 1 }
            }
            return (state.lastMillis, state.high, state.low)
        }
        return Self.encode(millis: millis, high: high, low: low)
    }

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func encode(millis: UInt64, high: UInt16, low: UInt64) -> String {
        var value = UInt128(millis) << 80 | UInt128(high) << 64 | UInt128(low)
        var out = [UInt8](repeating: 0, count: 26)
        for index in stride(from: 25, through: 0, by: -1) {
            out[index] = alphabet[Int(value & 31)]
            value >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` has the shape of a run id (so bad ids are a clean 404 or 400).
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 26 && text.utf8.allSatisfy { alphabet.contains($0) }
    }
}
