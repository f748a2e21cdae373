import Synchronization

/// A remote dependency that the resilience patterns call, simulated on the run's clock so
/// that every experiment is reproducible from its seed.
///
/// - Latency: `latencyMs`, or `slowMs` for `slowPct` percent of the calls, plus up to
///   `jitterMs`; drawn per call `key` from the seed (not from a shared generator), so a
///   call has the same latency whatever order the calls are made in, and two arms of one
///   experiment see the same dependency.
/// - Failures: `failurePct` percent of the calls fail (drawn per key, like the latency);
///   every call that starts inside the outage window fails.
/// - Capacity: up to `capacity` calls at once are served; while more are in flight the
///   dependency is overloaded and every call in flight fails at its end (the contention
///   of "Exponential Backoff And Jitter": clients that collide all lose).
///
/// A call takes its latency whether it succeeds or fails. Cancelling the caller ends the
/// call at once; it is counted as cancelled, never as an answer.
public final class SimulatedDependency: Sendable {
    /// How the dependency behaves; every number bounded by the pattern's parameters.
    public struct Profile: Sendable {
        public var latencyMs = 10
        public var jitterMs = 0
        public var slowMs = 0
        public var slowPct = 0
        public var failurePct = 0
        /// Calls starting in `[outageStartMs, outageStartMs + outageMs)` fail.
        public var outageStartMs = 0
        public var outageMs = 0
        /// nil: unlimited.
        public var capacity: Int?
        public var seed = 0

        public init() {}
    }

    /// Why a call failed.
    public enum Failure: String, Sendable {
        case outage, overload, injected
    }

    /// One answered call.
    public struct Answer: Sendable {
        public let failure: Failure?
        public let startMs: Double
        public let endMs: Double
        public var succeeded: Bool { failure == nil }
    }

    private struct State {
        var nextCallID = 0
        var inFlight: [Int: Bool] = [:]
        var peakInFlight = 0
        var answered = 0
        var cancelled = 0
    }

    public let profile: Profile
    private let state = Mutex(State())

    public init(_ profile: Profile) {
        self.profile = profile
    }

    /// The latency call `key` has, in milliseconds (the same in every arm of a run).
    public func latencyMs(key: Int) -> Int {
        var random = SeededRandom(seed: profile.seed &* 1_000_003 &+ key)
        let slow = profile.slowPct > 0 && Int.random(in: 0..<100, using: &random) < profile.slowPct
        let jitter = profile.jitterMs > 0 ? Int.random(in: 0...profile.jitterMs, using: &random) : 0
        return (slow ? profile.slowMs : profile.latencyMs) + jitter
    }

    /// Whether call `key` is one of the `failurePct` percent that fail by themselves.
    public func failsByItself(key: Int) -> Bool {
        guard profile.failurePct > 0 else { return false }
        var random = SeededRandom(seed: (profile.seed &+ 7_919) &* 1_000_003 &+ key)
        return Int.random(in: 0..<100, using: &random) < profile.failurePct
    }

    public func inOutage(atMs time: Double) -> Bool {
        profile.outageMs > 0 && time >= Double(profile.outageStartMs)
            && time < Double(profile.outageStartMs + profile.outageMs)
    }

    /// A call that has reached the dependency and waits for its answer.
    public struct Call: Sendable {
        let id: Int
        let key: Int
        public let startMs: Double
        /// Calls in flight when it arrived, counting itself.
        public let inFlight: Int
    }

    /// Makes call `key`: `start`, then `finish`. `onEnd` sees the number of calls left in
    /// flight after it.
    public func call(key: Int, clock: RunClock, onStart: (Call) -> Void = { _ in }, onEnd: (Int) -> Void = { _ in })
        async throws -> Answer
    {
        let call = start(key: key, clock: clock)
        onStart(call)
        return try await finish(call, clock: clock, onEnd: onEnd)
    }

    /// The call reaches the dependency now: counted and logged, without suspending, so a
    /// policy can admit it and start it under one lock.
    public func start(key: Int, clock: RunClock) -> Call {
        let startMs = clock.elapsedMs()
        let (id, inFlight) = admit(at: startMs)
        return Call(id: id, key: key, startMs: startMs, inFlight: inFlight)
    }

    /// Waits the call's latency and answers it.
    public func finish(_ call: Call, clock: RunClock, onEnd: (Int) -> Void = { _ in }) async throws -> Answer {
        do {
            try await clock.sleep(for: .milliseconds(latencyMs(key: call.key)))
        } catch {
            onEnd(leave(call.id, cancelled: true).left)
            throw error
        }
        let (overloaded, left) = leave(call.id, cancelled: false)
        onEnd(left)
        let failure: Failure? =
            if inOutage(atMs: call.startMs) { .outage } else if overloaded { .overload } else if failsByItself(key: call.key) {
                .injected
            } else { nil }
        return Answer(failure: failure, startMs: call.startMs, endMs: clock.elapsedMs())
    }

    private func admit(at time: Double) -> (id: Int, inFlight: Int) {
        state.withLock { state in
            let id = state.nextCallID
            state.nextCallID += 1
            state.inFlight[id] = false
            if let capacity = profile.capacity, state.inFlight.count > capacity {
                for key in state.inFlight.keys { state.inFlight[key] = true }
            }
            state.peakInFlight = max(state.peakInFlight, state.inFlight.count)
            return (id, state.inFlight.count)
        }
    }

    private func leave(_ id: Int, cancelled: Bool) -> (overloaded: Bool, left: Int) {
        state.withLock { state in
            let overloaded = state.inFlight.removeValue(forKey: id) ?? false
            if cancelled { state.cancelled += 1 } else { state.answered += 1 }
            return (overloaded, state.inFlight.count)
        }
    }

    /// Calls that reached the dependency (answered, cancelled or still in flight).
    public var calls: Int { state.withLock { $0.nextCallID } }
    public var peakInFlight: Int { state.withLock { $0.peakInFlight } }
    public var cancelledCalls: Int { state.withLock { $0.cancelled } }
}
