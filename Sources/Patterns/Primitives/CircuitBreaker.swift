import DequeModule

/// A circuit breaker over a count-based sliding window, as resilience4j's CircuitBreaker
/// defines it (and failsafe-go's count-based one):
///
/// - closed: calls pass; each result enters a window of the last `window` results. Once the
///   window is full, a failure rate >= `thresholdPct` opens the breaker.
/// - open: every call is refused at once (a fast failure). The first call asked for once
///   `openMs` have passed moves it to half-open (resilience4j's default, without a timer).
/// - half-open: `probes` calls pass, later ones are refused; when all of their results are
///   in, a failure rate >= `thresholdPct` opens it again, anything less closes it with an
///   empty window.
///
/// A value type: the caller keeps it behind one lock with whatever must happen atomically
/// with a permit (starting the call), and turns the transitions it returns into events.
public struct CircuitBreaker: Sendable {
    /// As a number (the `breaker_state` counter): 0 closed, 1 half-open, 2 open; higher is
    /// more closed to traffic.
    public enum State: Int, Sendable {
        case closed = 0, halfOpen = 1, open = 2

        public var name: String {
            switch self {
            case .closed: "closed"
            case .halfOpen: "half-open"
            case .open: "open"
            }
        }
    }

    public struct Transition: Sendable {
        public let from: State
        public let to: State
        public let atMs: Double
        /// The failure rate that decided it (nil for the timed open -> half-open).
        public let failureRatePct: Int?
    }

    public let window: Int
    public let thresholdPct: Int
    public let openMs: Double
    public let probes: Int
    public private(set) var state = State.closed
    private var results = Deque<Bool>()
    private var openedAtMs = 0.0
    private var probesPermitted = 0

    public init(window: Int, thresholdPct: Int, openMs: Int, probes: Int) {
        self.window = window
        self.thresholdPct = thresholdPct
        self.openMs = Double(openMs)
        self.probes = probes
    }

    /// Asks to make a call at `nowMs`: whether it may, and the transition the asking caused.
    public mutating func permit(atMs nowMs: Double) -> (permitted: Bool, transition: Transition?) {
        var transition: Transition?
        if state == .open, nowMs - openedAtMs >= openMs {
            transition = move(to: .halfOpen, atMs: nowMs, ratePct: nil)
        }
        switch state {
        case .closed: return (true, transition)
        case .open: return (false, transition)
        case .halfOpen:
            guard probesPermitted < probes else { return (false, transition) }
            probesPermitted += 1
            return (true, transition)
        }
    }

    /// Records a permitted call's result; the transition it caused, if any. Results that
    /// arrive while open (calls started before it opened) are ignored, as resilience4j does.
    public mutating func record(failed: Bool, atMs nowMs: Double) -> Transition? {
        switch state {
        case .open:
            return nil
        case .closed:
            results.append(failed)
            if results.count > window { results.removeFirst() }
            guard results.count == window, failureRatePct >= thresholdPct else { return nil }
            return move(to: .open, atMs: nowMs, ratePct: failureRatePct)
        case .halfOpen:
            results.append(failed)
            guard results.count >= probes else { return nil }
            let rate = failureRatePct
            return move(to: rate >= thresholdPct ? .open : .closed, atMs: nowMs, ratePct: rate)
        }
    }

    /// Failures among the results in the window, in percent (rounded down).
    public var failureRatePct: Int {
        results.isEmpty ? 0 : results.count(where: { $0 }) * 100 / results.count
    }

    private mutating func move(to next: State, atMs nowMs: Double, ratePct: Int?) -> Transition {
        let transition = Transition(from: state, to: next, atMs: nowMs, failureRatePct: ratePct)
        state = next
        results.removeAll()
        probesPermitted = 0
        if next == .open { openedAtMs = nowMs }
        return transition
    }
}
