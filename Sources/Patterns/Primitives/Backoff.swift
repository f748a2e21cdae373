/// Exponential backoff with the four jitter strategies of the AWS Architecture Blog's
/// "Exponential Backoff And Jitter" (Marc Brooker, 2015). With `e = min(cap, base * 2^n)`
/// before retry `n` (from 0):
///
/// - none: sleep = e
/// - full: sleep = random(0, e)
/// - equal: sleep = e / 2 + random(0, e / 2)
/// - decorrelated: sleep = min(cap, random(base, previous * 3)), previous starting at base
///
/// `bounds` states each strategy's range independently of `nextSleepMs`, so a run can check
/// every sleep it took against the formula, not against the code that drew it.
public struct Backoff: Sendable {
    public enum Jitter: String, Sendable, CaseIterable {
        case none, full, equal, decorrelated
    }

    public let jitter: Jitter
    public let baseMs: Double
    public let capMs: Double
    /// Decorrelated jitter's memory: the last sleep.
    public private(set) var previousMs: Double
    private var random: SeededRandom

    public init(_ jitter: Jitter, baseMs: Int, capMs: Int, seed: Int) {
        self.jitter = jitter
        self.baseMs = Double(baseMs)
        self.capMs = Double(capMs)
        previousMs = Double(baseMs)
        random = SeededRandom(seed: seed)
    }

    /// The exponential ceiling before retry `retry` (0 for the first).
    public func ceilingMs(retry: Int) -> Double {
        min(capMs, baseMs * Double(1 << min(retry, 52)))
    }

    /// Draws the sleep before retry `retry` and remembers it.
    public mutating func nextSleepMs(retry: Int) -> Double {
        let ceiling = ceilingMs(retry: retry)
        let sleep: Double
        switch jitter {
        case .none: sleep = ceiling
        case .full: sleep = Double.random(in: 0...ceiling, using: &random)
        case .equal: sleep = ceiling / 2 + Double.random(in: 0...(ceiling / 2), using: &random)
        case .decorrelated: sleep = min(capMs, Double.random(in: baseMs...max(baseMs, previousMs * 3), using: &random))
        }
        previousMs = sleep
        return sleep
    }

    /// Where the formula puts the sleep before retry `retry`, after a previous sleep of
    /// `previousMs` (decorrelated only).
    public func bounds(retry: Int, previousMs: Double) -> ClosedRange<Double> {
        let ceiling = ceilingMs(retry: retry)
        switch jitter {
        case .none: return ceiling...ceiling
        case .full: return 0...ceiling
        case .equal: return (ceiling / 2)...ceiling
        case .decorrelated: return min(capMs, baseMs)...min(capMs, max(baseMs, previousMs * 3))
        }
    }

    /// The longest sleep before retry `retry` can be under any strategy: what a run's
    /// planned duration must allow for.
    public static func worstCaseMs(retry: Int, baseMs: Int, capMs: Int) -> Double {
        let exponential = Double(baseMs) * Double(1 << min(retry, 52))
        let decorrelated = Double(baseMs) * pow3(retry + 1)
        return min(Double(capMs), max(exponential, decorrelated))
    }

    private static func pow3(_ exponent: Int) -> Double {
        (0..<min(exponent, 40)).reduce(1.0) { value, _ in value * 3 }
    }
}
