import Dispatch
import Synchronization

/// A task executor with threads of its own: `width` OS threads taking jobs from one FIFO
/// queue, as the cooperative pool does, but private to one run.
///
/// Why: runs must not starve the server. A run of a million tasks floods whatever pool it
/// runs on, and `blocking-offload` in `inline` mode really blocks its threads to show
/// starvation. On the shared cooperative pool either would stall every request handler.
/// Runs execute under a preference for a pool like this one (the registry's, and a private
/// one for inline blocking), so they compete with each other and the OS shares the cores
/// fairly between them and the request handlers.
///
/// `shutdown()` ends the threads once the queue is empty; call it when the run has ended.
public final class DedicatedThreadsExecutor: TaskExecutor, @unchecked Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var head = 0
        var stopped = false
        /// Threads waiting on `wake`: a job wakes one only when one is idle, so a busy pool
        /// takes jobs with no system call.
        var idle = 0
    }

    // `@unchecked`: all state is behind `state`; `wake` is a thread-safe semaphore.
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    public let width: Int
    /// What its threads are called (`ThreadLauncher.nameCurrentThread`).
    public let threadName: String

    public init(width: Int, threads: ThreadLauncher = .pthreads, threadName: String = "lab-run") throws {
        self.width = width
        self.threadName = threadName
        for _ in 0..<width { try threads.launch { [self] in work() } }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let wakeOne = state.withLock { state -> Bool in
            state.jobs.append(job)
            guard state.idle > 0 else { return false }
            state.idle -= 1
            return true
        }
        if wakeOne { wake.signal() }
    }

    public func shutdown() {
        let idle = state.withLock { state -> Int in
            state.stopped = true
            defer { state.idle = 0 }
            return state.idle
        }
        for _ in 0..<idle { wake.signal() }
    }

    private enum Next {
        case run(UnownedJob)
        case wait
        case stop
    }

    private func work() {
        ThreadLauncher.nameCurrentThread(threadName)
        while true {
            switch take() {
            case .run(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .wait: wake.wait()
            case .stop: return  // stopped and drained
            }
        }
    }

    /// The next job, or that this thread must wait (counted idle) or stop.
    private func take() -> Next {
        state.withLock { state in
            guard state.head < state.jobs.count else {
                if state.stopped { return .stop }
                state.idle += 1
                return .wait
            }
            let job = state.jobs[state.head]
            state.head += 1
            if state.head > 1_024, state.head * 2 > state.jobs.count {
                state.jobs.removeFirst(state.head)
                state.head = 0
            }
            return .run(job)
        }
    }
}
