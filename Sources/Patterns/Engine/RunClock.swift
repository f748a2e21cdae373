/// The run's clock: any `Clock` whose duration is `Duration`, seen as time since the run's
/// origin. Real runs wrap `ContinuousClock`; virtual runs and tests wrap `VirtualClock`,
/// whose timelines are exact. Patterns never call `Task.sleep`: they sleep through this.
public struct RunClock: Sendable {
    private let nowSinceOrigin: @Sendable () -> Duration
    private let sleepUntil: nonisolated(nonsending) @Sendable (Duration) async throws -> Void
    private let blockUntil: @Sendable (Duration) -> Void

    /// Wraps `clock`, taking its current instant as the origin. `block` blocks the calling
    /// thread until the given instant: real blocking work, in whatever time the clock keeps.
    public init<C: Clock>(
        _ clock: C, blockThreadUntil block: @escaping @Sendable (C.Instant) -> Void
    ) where C.Duration == Duration {
        let origin = clock.now
        self.init(
            now: { origin.duration(to: clock.now) },
            sleep: { offset in try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil) },
            block: { offset in block(origin.advanced(by: offset)) })
    }

    private init(
        now: @escaping @Sendable () -> Duration, sleep: nonisolated(nonsending) @escaping @Sendable (Duration) async throws -> Void,
        block: @escaping @Sendable (Duration) -> Void
    ) {
        nowSinceOrigin = now
        sleepUntil = sleep
        blockUntil = block
    }

    /// The production clock: `ContinuousClock`, sleeping through the shared `TimerQueue`
    /// (one heap and one thread for every run's sleeps, instead of a libdispatch timer each)
    /// and blocking with `nanosleep`.
    public static func continuous() -> RunClock {
        let clock = ContinuousClock()
        let origin = clock.now
        let timers = TimerQueue.shared
        return RunClock(
            now: { origin.duration(to: clock.now) },
            sleep: { offset in try await timers.sleep(until: origin.advanced(by: offset)) },
            block: { offset in
                let remaining = clock.now.duration(to: origin.advanced(by: offset))
                guard remaining > .zero else { return }
                let (seconds, attoseconds) = remaining.components
                var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                var remainder = timespec()
                while nanosleep(&request, &remainder) != 0 { request = remainder }
            })
    }

    /// Time since the origin.
    public func now() -> Duration { nowSinceOrigin() }

    public func elapsedMs() -> Double { now().milliseconds }

    /// Suspends until `offset` after the origin; throws `CancellationError` when cancelled.
    /// A deadline already passed returns at once (after the cancellation check) instead of
    /// arming a timer: a zero-delay task costs microseconds less each, a million of them
    /// seconds less.
    nonisolated(nonsending) public func sleep(until offset: Duration) async throws {
        try Task.checkCancellation()
        if offset <= now() { return }
        try await sleepUntil(offset)
    }

    nonisolated(nonsending) public func sleep(for duration: Duration) async throws {
        try await sleep(until: now() + duration)
    }

    /// Blocks the calling thread (no suspension) for `duration` of this clock's time.
    public func blockThread(for duration: Duration) {
        blockUntil(now() + duration)
    }
}

extension Duration {
    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
