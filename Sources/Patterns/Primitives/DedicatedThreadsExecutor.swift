import Dispatch
import Synchronization

/// A task executor with threads of its own: `width` OS threads taking jobs from one FIFO
/// queue, as the cooperative pool does, but private to one run.
///
/// Why: `blocking-offload` in `inline` mode must really block the threads its tasks run on
/// to show starvation. On the shared cooperative pool that would starve the whole server
/// (every request handler waits behind the blocked threads). Under a preference for this
/// executor the run starves its own pool of the same width and nothing else.
///
/// `shutdown()` ends the threads once the queue is empty; call it when the run has ended.
public final class DedicatedThreadsExecutor: TaskExecutor, @unchecked Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var head = 0
        var stopped = false
    }

    // `@unchecked`: all state is behind `state`; `wake` is a thread-safe semaphore.
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    public let width: Int

    public init(width: Int, threads: ThreadLauncher = .pthreads) throws {
        self.width = width
        for _ in 0..<width { try threads.launch { [self] in work() } }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    public func shutdown() {
        state.withLock { $0.stopped = true }
        for _ in 0..<width { wake.signal() }
    }

    private func work() {
        while true {
            wake.wait()
            let next = state.withLock { state -> UnownedJob?? in
                if state.head < state.jobs.count {
                    defer {
                        state.head += 1
                        if state.head > 1_024, state.head * 2 > state.jobs.count {
                            state.jobs.removeFirst(state.head)
                            state.head = 0
                        }
                    }
                    return .some(state.jobs[state.head])
                }
                return state.stopped ? .none : .some(nil)
            }
            switch next {
            case .none: return  // stopped and drained
            case .some(.none): continue  // a wake-up whose job another thread took
            case .some(.some(let job)): job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
    }
}
