/// A token bucket: up to `burst` tokens, refilled continuously at `ratePerS`; a call takes
/// one. Over any window of length w it admits at most burst + rate * w calls, whatever the
/// arrival pattern: the guarantee `rate-limiter` checks.
///
/// A value type over the caller's timestamps: the time it is told is the time it admits
/// at, so a caller that records those timestamps records exactly what the bucket did.
public struct TokenBucket: Sendable {
    public let ratePerMs: Double
    public let burst: Double
    public private(set) var tokens: Double
    private var lastMs: Double

    public init(ratePerS: Double, burst: Int, atMs nowMs: Double = 0) {
        ratePerMs = ratePerS / 1000
        self.burst = Double(burst)
        tokens = Double(burst)
        lastMs = nowMs
    }

    /// Takes a token at `nowMs` if there is one; else the milliseconds until there will be.
    public mutating func take(atMs nowMs: Double) -> Double? {
        refill(atMs: nowMs)
        // A hair under one token counts as one: continuous refill in floating point lands
        // a rounding error short of the whole token the formula promises.
        guard tokens >= 1 - 1e-9 else { return (1 - tokens) / ratePerMs }
        tokens = max(0, tokens - 1)
        return nil
    }

    private mutating func refill(atMs nowMs: Double) {
        guard nowMs > lastMs else { return }
        tokens = min(burst, tokens + (nowMs - lastMs) * ratePerMs)
        lastMs = nowMs
    }

    /// The most calls admitted in any window beyond what the bucket allows, over admission
    /// times in order: max over i <= j of (j - i + 1) - rate * (t_j - t_i), in O(n). A
    /// token bucket keeps it <= burst.
    public static func worstWindowCount(admissionsMs times: [Double], ratePerMs: Double) -> Double {
        var lowest = Double.infinity
        var worst = 0.0
        for (index, time) in times.enumerated() {
            let level = Double(index) - ratePerMs * time
            lowest = min(lowest, level)
            worst = max(worst, level - lowest + 1)
        }
        return worst
    }
}
