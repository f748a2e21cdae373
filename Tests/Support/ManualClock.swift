import Dispatch
import Patterns
import Synchronization

/// A `Clock` whose time moves only when a test moves it, so tests describe timelines
/// exactly instead of sleeping. Its `Duration` is `Swift.Duration`, so it drives a
/// `RunClock` like the production clock does.
///
/// - `sleep(until:)` suspends a task until `advance` reaches its deadline; a cancelled
///   sleeper leaves at once with `CancellationError` (before or after it registered).
/// - `blockThread(until:)` blocks the calling thread (no suspension) until `advance`
///   reaches the deadline: blocking work in manual time, for `RunClock.blockThread`.
/// - `advance(to:)` wakes every sleeper and then every blocked thread that is due, each in
///   deadline order (ties in the order they began waiting), all seeing the new time.
///
/// It reports blocked threads to its `ActivityCounter`: a thread that blocks stops being
/// active, and `advance` marks it active again before letting it go.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock's zero.
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "\(offset.milliseconds) ms" }
    }

    private enum Waker {
        case task(UnsafeContinuation<Void, any Error>)
        case thread(DispatchSemaphore)
    }

    private struct Waiter {
        let id: UInt64
        let deadline: Instant
        let waker: Waker

        var isTask: Bool {
            if case .task = waker { true } else { false }
        }
    }

    private struct State {
        var now = Instant(offset: .zero)
        var waiters: [Waiter] = []
        var lastID: UInt64 = 0
        var sleepsBegun = 0
    }

    private let state = Mutex(State())
    public let activity: ActivityCounter
    private let resumeRouting = Mutex<(@Sendable (() -> Void) -> Void)?>(nil)

    /// Wraps every batch of task wake-ups `advance` makes in `routing` (a `TestRun` routes
    /// the global-executor jobs they enqueue to its executor: see `routingGlobalJobs`).
    public func routeResumes(through routing: @escaping @Sendable (() -> Void) -> Void) {
        resumeRouting.withLock { $0 = routing }
    }

    private func resume(_ tasks: [UnsafeContinuation<Void, any Error>]) {
        let routing = resumeRouting.withLock { $0 }
        guard let routing else {
            for continuation in tasks { continuation.resume() }
            return
        }
        routing { for continuation in tasks { continuation.resume() } }
    }

    public init(activity: ActivityCounter = ActivityCounter()) {
        self.activity = activity
    }

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// Tasks suspended in `sleep` right now.
    public var sleeperCount: Int { state.withLock { $0.waiters.count { $0.isTask } } }
    /// Threads blocked in `blockThread` right now.
    public var blockedThreadCount: Int { state.withLock { $0.waiters.count { !$0.isTask } } }
    /// Sleeps that ever suspended: tells a test that a sleeper re-registered.
    public var sleepsBegun: Int { state.withLock { $0.sleepsBegun } }
    /// The earliest deadline anyone is waiting for.
    public var nextDeadline: Instant? { state.withLock { $0.waiters.map(\.deadline).min() } }

    /// This clock as a run's clock, with blocking work in manual time.
    public var runClock: RunClock {
        RunClock(self) { [self] deadline in blockThread(until: deadline) }
    }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64 in
            state.lastID += 1
            return state.lastID
        }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepsBegun += 1
                    state.waiters.append(Waiter(id: id, deadline: deadline, waker: .task(continuation)))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }),
                    case .task(let continuation) = state.waiters[index].waker
                else { return nil }
                state.waiters.remove(at: index)
                return continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Blocks the calling thread until the clock reaches `deadline`.
    public func blockThread(until deadline: Instant) {
        let semaphore = DispatchSemaphore(value: 0)
        let mustWait = state.withLock { state -> Bool in
            guard deadline > state.now else { return false }
            state.lastID += 1
            state.waiters.append(Waiter(id: state.lastID, deadline: deadline, waker: .thread(semaphore)))
            return true
        }
        guard mustWait else { return }
        activity.end()
        semaphore.wait()
    }

    public func advance(by duration: Duration) {
        advance(to: now.advanced(by: duration))
    }

    /// Moves the time to `instant` (never backwards) and wakes whoever is due: sleeping
    /// tasks first, then blocked threads, each in deadline order.
    public func advance(to instant: Instant) {
        let due = takeDue(upTo: instant)
        resume(due.tasks)
        for thread in due.threads {
            activity.begin()
            thread.signal()
        }
    }

    /// `advance(to:)`, letting each woken thread settle (`settle` returns once it has
    /// parked or ended) before the next is woken: threads due at the same instant then
    /// act in a fixed order instead of racing.
    public func advance(to instant: Instant, settlingEachThread settle: () async throws -> Void) async throws {
        let due = takeDue(upTo: instant)
        resume(due.tasks)
        for thread in due.threads {
            activity.begin()
            thread.signal()
            try await settle()
        }
    }

    private func takeDue(upTo instant: Instant) -> (tasks: [UnsafeContinuation<Void, any Error>], threads: [DispatchSemaphore]) {
        let due = state.withLock { state -> [Waiter] in
            state.now = max(state.now, instant)
            let now = state.now
            let due = state.waiters.filter { $0.deadline <= now }
            state.waiters.removeAll { $0.deadline <= now }
            return due.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        }
        var tasks: [UnsafeContinuation<Void, any Error>] = []
        var threads: [DispatchSemaphore] = []
        for waiter in due {
            switch waiter.waker {
            case .task(let continuation): tasks.append(continuation)
            case .thread(let semaphore): threads.append(semaphore)
            }
        }
        return (tasks, threads)
    }

    /// Waits until at least `count` tasks sleep on this clock (see `waitUntil`), for tests
    /// that drive the clock by hand outside a `TestRun`.
    public func waitForSleepers(_ count: Int, maxTurns: Int = 50_000) async throws {
        try await waitUntil("\(count) sleepers", maxTurns: maxTurns) { sleeperCount >= count }
    }
}

