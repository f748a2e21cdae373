extension RunClock {
    /// This clock as a standard `Clock`, for libraries that take one (swift-async-algorithms'
    /// `debounce` and `throttle`): whatever drives the run's time (the continuous clock, a
    /// test's manual clock, virtual time) drives them too.
    public var asClock: ClockAdapter { ClockAdapter(self) }

    /// A `Clock` over a `RunClock`. Its instant is the time since the run's origin, so two
    /// adapters of one run compare their instants meaningfully.
    public struct ClockAdapter: Clock {
        public struct Instant: InstantProtocol, CustomStringConvertible {
            /// Time since the run's origin.
            public var offset: Duration

            public init(offset: Duration) { self.offset = offset }
            public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
            public func duration(to other: Instant) -> Duration { other.offset - offset }
            public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
            public var description: String { "\(offset.milliseconds) ms" }
        }

        private let runClock: RunClock

        init(_ runClock: RunClock) {
            self.runClock = runClock
        }

        public var now: Instant { Instant(offset: runClock.now()) }

        /// The run's clock promises no finer resolution than this; a library that rounds
        /// deadlines to it loses nothing that matters to a run.
        public var minimumResolution: Duration { .microseconds(1) }

        /// Sleeps through the run's clock; `tolerance` is ignored (the run's clock keeps
        /// every deadline exactly, or as exactly as the timer thread can).
        public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
            try await runClock.sleep(until: deadline.offset)
        }
    }
}
