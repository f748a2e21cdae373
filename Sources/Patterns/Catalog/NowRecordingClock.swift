/// A clock that remembers the last instant it told anyone, by `now` or by waking a sleeper:
/// handed to `throttle`, which reads `now` to decide each emission (or sleeps before its
/// last one), it lets the consumer read back the very instant the library emitted at,
/// instead of a second clock read a scheduler delay later.
struct NowRecordingClock<Base: Clock>: Clock where Base.Instant: Sendable {
    typealias Instant = Base.Instant

    let base: Base
    private let lastNow = Locked<Base.Instant?>(nil)

    init(_ base: Base) {
        self.base = base
    }

    var now: Instant {
        let now = base.now
        lastNow.withLock { $0 = now }
        return now
    }

    /// The instant `now` last returned, or the last sleep ended at.
    var lastReadNow: Instant? { lastNow.value }

    var minimumResolution: Base.Duration { base.minimumResolution }

    func sleep(until deadline: Instant, tolerance: Base.Duration?) async throws {
        try await base.sleep(until: deadline, tolerance: tolerance)
        let woke = base.now
        lastNow.withLock { $0 = woke }
    }
}
