#if canImport(Glibc)
import Glibc
#endif
import HeapModule
import Synchronization

/// The sleeps of every run on the real clock, kept in one heap and woken by one thread.
///
/// Why not `Task.sleep`: on Linux each sleep is a `dispatch_after` (a timer source, a heap
/// operation in libdispatch's manager thread, often a `timerfd_settime` system call), and
/// a gather of 10,000 tasks arms 10,000 of them; many distinct deadlines made the runtime's
/// timer path the slowest part of a run. Here a sleep is a lock, a heap push and a
/// continuation; the thread wakes at the earliest deadline and resumes everything due by
/// then in one pass, so tasks whose deadlines fall together wake together.
///
/// Invariants:
/// - every sleeper is resumed exactly once: by the timer thread when its deadline passed
///   (`fireDue`), or with `CancellationError` by its task's cancellation, whichever takes
///   it out of `sleepers` first; a cancellation that runs before the sleeper registered is
///   remembered (`cancelledEarly`) and the sleeper resumes at once when it registers;
/// - the heap may hold entries whose sleeper was cancelled; they are skipped when due;
/// - sleepers with equal deadlines resume in the order they went to sleep.
public final class TimerQueue: Sendable {
    /// A deadline in the heap, as its offset from a fixed instant: `ContinuousClock.Instant`
    /// is a resilient type, so a heap of them moved every element through value witnesses
    /// (`memmove`, copy and destroy calls: a tenth of the timer thread's time waking a gather of
    /// 10,000 tasks); a `Duration` is frozen, and an `Entry` is plain bits.
    struct Entry: Comparable {
        private static let origin = ContinuousClock.now
        let offset: Duration
        let id: UInt64

        init(deadline: ContinuousClock.Instant, id: UInt64) {
            offset = Self.origin.duration(to: deadline)
            self.id = id
        }

        var deadline: ContinuousClock.Instant { Self.origin.advanced(by: offset) }

        /// Whether this entry is due at `now` (given as an offset, see `offset(of:)`).
        func isDue(at now: Duration) -> Bool { offset <= now }

        static func offset(of instant: ContinuousClock.Instant) -> Duration { origin.duration(to: instant) }

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.offset < rhs.offset || (lhs.offset == rhs.offset && lhs.id < rhs.id)
        }
    }

    /// What is due at an entry's deadline: a sleeping task to resume, or an action to run.
    private enum Due {
        case sleeper(UnsafeContinuation<Void, any Error>)
        case action(@Sendable () -> Void)
    }

    private struct State: ~Copyable {
        var heap = Heap<Entry>()
        var sleepers: [UInt64: Due] = [:]
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 0
        /// Heap entries whose sleeper or action is gone (cancelled); the heap is rebuilt
        /// without them once they outnumber the live ones, so cancelled long deadlines (a
        /// `?wait=` answered early, a cancelled run of long sleeps) do not pile up.
        var dead = 0
        /// The deadline the thread sleeps until (nil: until signalled); a new earlier one
        /// signals it.
        var threadWakesAt: ContinuousClock.Instant?
    }

    /// The process's queue, with its thread started on first use.
    public static let shared: TimerQueue = {
        let queue = TimerQueue()
        do {
            try ThreadLauncher.pthreads.launch { queue.runTimerThread() }
        } catch {
            preconditionFailure("cannot start the timer thread: \(error)")
        }
        return queue
    }()

    private let state = Mutex(State())
    private let wake = MonotonicWake()

    /// A queue with no thread: whoever made it decides when time passes by calling
    /// `fireDue(now:)` (tests drive timeouts this way, without waiting for them).
    public init() {}

    /// Asks Linux to wake this thread on time: a timed wait may otherwise end up to 50 µs
    /// late (the default timer slack), and a run's sleeps inherit that lateness one after
    /// another (a semaphore run of 100 waves slept 0.2 ms too long per wave). Best effort:
    /// where the file cannot be written, the default slack stays.
    private static func tightenTimerSlack() {
        #if os(Linux)
        // /proc/thread-self links to PID/task/TID; /proc/TID/ is this thread's own directory
        // with the file (task/TID/ has none).
        var link = [CChar](repeating: 0, count: 64)
        let length = readlink("/proc/thread-self", &link, link.count - 1)
        guard length > 0 else { return }
        let target = String(decoding: link[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let tid = target.split(separator: "/").last else { return }
        let descriptor = open("/proc/\(tid)/timerslack_ns", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = "1".utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, 1) }
        close(descriptor)
        #endif
    }

    /// Entries in the heap, cancelled ones included (tests).
    var heapEntries: Int { state.withLock { $0.heap.count } }

    /// How many sleepers and scheduled actions are waiting.
    public var count: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until `deadline` has passed; throws `CancellationError` when the task is
    /// cancelled first (or already was).
    nonisolated(nonsending) public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let (registered, signal) = state.withLock { state -> (Bool, Bool) in
                    guard state.cancelledEarly.remove(id) == nil else { return (false, false) }
                    return (true, Self.insert(.sleeper(continuation), id: id, at: deadline, into: &state))
                }
                if !registered { continuation.resume(throwing: CancellationError()) }
                if signal { wake.signal() }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Due? in
                if let sleeper = state.sleepers.removeValue(forKey: id) {
                    Self.buried(&state)
                    return sleeper
                }
                state.cancelledEarly.insert(id)
                return nil
            }
            if case .sleeper(let continuation) = sleeper { continuation.resume(throwing: CancellationError()) }
        }
        // A cancellation that came after the thread resumed this sleeper left its id behind.
        if Task.isCancelled { _ = state.withLock { $0.cancelledEarly.remove(id) } }
    }

    /// Runs `action` on the timer thread once `deadline` has passed, unless `cancel(timer:)`
    /// with the returned id comes first. For deadlines that are not a task's own sleep (how
    /// long a caller waits for a signal): no task is created and none is cancelled.
    public func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, signal) = state.withLock { state -> (UInt64, Bool) in
            state.nextID += 1
            return (state.nextID, Self.insert(.action(action), id: state.nextID, at: deadline, into: &state))
        }
        if signal { wake.signal() }
        return id
    }

    /// Forgets a scheduled action; does nothing once it ran.
    public func cancel(timer id: UInt64) {
        state.withLock { state in
            if state.sleepers.removeValue(forKey: id) != nil { Self.buried(&state) }
        }
    }

    /// One more heap entry lost its sleeper: rebuild the heap once most entries are dead.
    private static func buried(_ state: inout State) {
        state.dead += 1
        guard state.dead > 1_024, state.dead * 2 > state.heap.count else { return }
        let sleepers = state.sleepers
        state.heap = Heap(state.heap.unordered.filter { sleepers[$0.id] != nil })
        state.dead = 0
    }

    /// Adds an entry; true when the thread must be woken to see an earlier deadline.
    private static func insert(_ due: Due, id: UInt64, at deadline: ContinuousClock.Instant, into state: inout State) -> Bool {
        state.sleepers[id] = due
        state.heap.insert(Entry(deadline: deadline, id: id))
        guard state.threadWakesAt.map({ deadline < $0 }) ?? true else { return false }
        state.threadWakesAt = deadline
        return true
    }

    /// Resumes every sleeper and runs every action whose deadline is at or before `now`, in
    /// deadline order, and returns the next deadline (nil when nothing is scheduled).
    @discardableResult
    public func fireDue(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        var due: [Due] = []
        return fireDue(now: now, into: &due)
    }

    /// `fireDue(now:)` collecting what is due in `due`, emptied after use with its capacity
    /// kept: the timer thread passes the same array every time, so a burst of 10,000 sleepers
    /// coming due a few at a time allocates none.
    private func fireDue(now: ContinuousClock.Instant, into due: inout [Due]) -> ContinuousClock.Instant? {
        defer { due.removeAll(keepingCapacity: true) }
        let nowOffset = Entry.offset(of: now)
        let next = state.withLock { state -> ContinuousClock.Instant? in
            while let first = state.heap.min, first.isDue(at: nowOffset) {
                _ = state.heap.removeMin()
                if let entry = state.sleepers.removeValue(forKey: first.id) {
                    due.append(entry)
                } else {
                    state.dead = max(0, state.dead - 1)
                }
            }
            state.threadWakesAt = state.heap.min?.deadline
            return state.threadWakesAt
        }
        for entry in due {
            switch entry {
            case .sleeper(let continuation): continuation.resume()
            case .action(let action): action()
            }
        }
        return next
    }

    private func runTimerThread() {
        ThreadLauncher.nameCurrentThread("lab-timer")
        Self.tightenTimerSlack()
        let clock = ContinuousClock()
        var due: [Due] = []
        while true {
            let next = fireDue(now: clock.now, into: &due)
            let remaining = next.map { clock.now.duration(to: $0) }
            if let remaining, remaining <= .zero { continue }
            wake.wait(for: remaining)
        }
    }
}

/// A wake-up flag the timer thread waits on, with timed waits on `CLOCK_MONOTONIC`: a
/// `DispatchSemaphore`'s timed wait ends at a wall-clock instant on Linux, so a clock step
/// backwards (NTP, a resumed VM) would have stalled every run's sleeps by the size of the step.
private final class MonotonicWake: @unchecked Sendable {
    // @unchecked: the flag is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var signalled = false

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func signal() {
        pthread_mutex_lock(mutex)
        signalled = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Returns when signalled (the flag is consumed) or after `duration` (nil: no limit).
    func wait(for duration: Duration?) {
        var deadline = timespec()
        if let duration {
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let (seconds, attoseconds) = duration.components
            let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
            deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
        }
        pthread_mutex_lock(mutex)
        while !signalled {
            if duration == nil {
                pthread_cond_wait(condition, mutex)
            } else if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT {
                break
            }
        }
        signalled = false
        pthread_mutex_unlock(mutex)
    }
}
