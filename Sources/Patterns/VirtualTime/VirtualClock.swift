import Dispatch
import HeapModule
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `Clock` whose time moves only when it is told to: by hand (`advance`), or by the
/// `VirtualExecutor` that drives it, which jumps to the earliest deadline whenever every
/// task of its run waits (Trio's `MockClock` with `autojump_threshold = 0`). Tests and
/// `clock: virtual` runs use this one implementation. Its `Duration` is `Swift.Duration`,
/// so it drives a `RunClock` as the production clock does.
///
/// Order (what makes a virtual run the same every time):
/// - every wait gets a sequence number when it begins; deadlines order the waits, and
///   equal deadlines wake in sequence order: first come, first woken (FIFO of scheduling);
/// - at a jump to an instant, the tasks due then resume (their jobs join the executor's
///   queue in that order), then threads blocked until then wake one at a time, each left
///   to park or end before the next; actions scheduled for that instant run only once all
///   of those have run and waited again (so a cancellation "at 25 ms" sees the run as it
///   is at 25 ms, after everything due at 25 ms);
/// - a cancelled sleeper leaves at once with `CancellationError`.
///
/// A thread that blocks on the clock (`blockThread(until:)`) stops counting in `activity`
/// until it is woken; when the executor's own thread blocks, nothing else could move the
/// clock, so it drives the clock itself until its deadline (see `driveInline`).
public final class VirtualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock's zero.
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "\(offset.milliseconds) ms" }
    }

    private let state = Mutex(VirtualTimers())
    /// The thread of the executor driving this clock, if one is attached.
    private let driver = Mutex<pthread_t?>(nil)
    public let activity: ActivityCounter

    public init(activity: ActivityCounter = ActivityCounter()) {
        self.activity = activity
    }

    public var now: Instant { Instant(offset: state.withLock { $0.now }) }
    public var minimumResolution: Duration { .zero }

    /// Tasks suspended in `sleep` right now.
    public var sleeperCount: Int { state.withLock { $0.sleepers } }
    /// Threads blocked in `blockThread` right now.
    public var blockedThreadCount: Int { state.withLock { $0.blockedThreads } }
    /// Sleeps that ever suspended: tells a test that a sleeper re-registered.
    public var sleepsBegun: Int { state.withLock { $0.sleepsBegun } }
    /// The earliest deadline anyone (a task, a thread, an action) waits for.
    public var nextDeadline: Instant? { state.withLock { $0.nextDeadline() }.map(Instant.init(offset:)) }

    /// This clock as a run's clock, with blocking work in virtual time.
    public var runClock: RunClock {
        RunClock(self) { [self] deadline in blockThread(until: deadline) }
    }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    // Checked under the lock the cancellation handler takes: a cancellation
                    // either sees this sleeper registered or is seen here.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline.offset <= state.now { return .success(()) }
                    state.register(.task(continuation), id: id, at: deadline.offset)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            guard case .task(let continuation)? = state.withLock({ $0.remove(id) }) else { return }
            continuation.resume(throwing: CancellationError())
        }
    }

    /// Blocks the calling thread (no suspension) until the clock reaches `deadline`.
    public func blockThread(until deadline: Instant) {
        if isDriverThread {
            driveInline(until: deadline.offset)
            return
        }
        let semaphore = DispatchSemaphore(value: 0)
        let mustWait = state.withLock { state -> Bool in
            guard deadline.offset > state.now else { return false }
            state.register(.thread(semaphore), id: state.makeID(), at: deadline.offset)
            return true
        }
        guard mustWait else { return }
        activity.end()
        semaphore.wait()
    }

    /// Runs `action` once the clock reaches `deadline` (after whatever else is due then has
    /// run and waits again), unless `cancel(timer:)` with the returned id comes first.
    @discardableResult
    public func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.makeID()
            state.register(.action(action), id: id, at: deadline.offset)
            return id
        }
    }

    /// Forgets a scheduled action; does nothing once it ran.
    public func cancel(timer id: UInt64) {
        _ = state.withLock { $0.remove(id) }
    }

    public func advance(by duration: Duration) {
        advance(to: now.advanced(by: duration))
    }

    /// Moves the time to `instant` (never backwards) and wakes whoever is due, all at once:
    /// sleeping tasks, then actions, then blocked threads, each in deadline order. For
    /// tests that drive the clock by hand; an executor jumps with `jump(to:)`.
    public func advance(to instant: Instant) {
        let due = state.withLock { $0.takeDue(upTo: instant.offset, deferringActions: false) }
        wake(due, settlingThreads: false)
    }

    /// The executor's jump: to `instant`, waking what is due with the order described above.
    func jump(to instant: Duration) {
        let due = state.withLock { $0.takeDue(upTo: instant, deferringActions: true) }
        wake(due, settlingThreads: true)
    }

    private func wake(_ due: VirtualTimers.Due, settlingThreads: Bool) {
        for continuation in due.tasks { continuation.resume() }
        for action in due.actions { action() }
        for thread in due.threads {
            activity.begin()
            thread.signal()
            if settlingThreads { activity.blockUntilActive(atMost: 0) }
        }
    }

    /// What the driver found when it looked for something to do.
    enum Step: Equatable {
        case jumped
        /// A thread outside the executor still runs: wait for it to park or end.
        case threadsRunning
        /// Nothing is scheduled: no task or thread can ever wake (a deadlock).
        case nothingScheduled
        /// The next deadline is past `limit`.
        case beyondLimit(next: Duration)
    }

    /// Jumps to the earliest deadline if nothing else can happen first.
    func jumpToNextDeadline(limit: Duration?) -> Step {
        guard activity.isIdle else { return .threadsRunning }
        guard let next = state.withLock({ $0.nextDeadline() }) else { return .nothingScheduled }
        if let limit, next > limit { return .beyondLimit(next: next) }
        jump(to: next)
        return .jumped
    }

    // MARK: - the driving thread

    /// Makes the calling thread this clock's driver (the executor's thread).
    func attachDriver() {
        driver.withLock { $0 = pthread_self() }
    }

    func detachDriver() {
        driver.withLock { $0 = nil }
    }

    private var isDriverThread: Bool {
        guard let thread = driver.withLock({ $0 }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// The driver blocks its own thread (blocking work done inline): its queued jobs cannot
    /// run, so it moves time itself, deadline by deadline, until its own deadline, waiting
    /// for other threads to settle first. Tasks woken meanwhile queue up behind the block,
    /// as they would behind a blocked thread of a real pool.
    private func driveInline(until deadline: Duration) {
        while state.withLock({ $0.now }) < deadline {
            activity.blockUntilActive(atMost: 0)
            let next = state.withLock { $0.nextDeadline() } ?? deadline
            jump(to: min(next, deadline))
        }
    }
}
