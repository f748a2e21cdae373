import Synchronization

/// Runs a pattern on virtual time: on a `VirtualExecutor` of its own (one thread, jobs in
/// FIFO order, the clock jumping to the next deadline whenever every task waits), so the
/// same parameters give the same events, figures, checks and timeline every time. The
/// service runs `clock: virtual` runs through this, and the tests run every pattern
/// through it.
///
/// A run that cannot finish is cancelled and ends `failed`, saying why (`Stop`): it
/// deadlocked (nothing queued, nothing scheduled), its next deadline lies past the virtual
/// time limit, or it took longer than the real time limit.
public enum VirtualRun {
    /// Why a virtual run was stopped before it could end by itself.
    public enum Stop: Sendable, Equatable, CustomStringConvertible {
        case halted(VirtualExecutor.Halt)
        case realTimeLimit(Duration)

        public var description: String {
            switch self {
            case .halted(let halt): halt.description
            case .realTimeLimit(let limit):
                "the run took longer than the real time limit of \(limit.components.seconds) s and was cancelled"
            }
        }
    }

    /// How a virtual run went.
    public struct Outcome: Sendable {
        public let execution: RunExecution
        /// Set when the run was stopped (its execution then says `failed`).
        public let stop: Stop?
        /// The virtual time when the pattern returned.
        public let endedAt: Duration
    }

    /// Executes `pattern`; `context.clock` must be `clock.runClock`. `timeLimit` bounds
    /// the virtual time, `realTimeLimit` the real time; `cancelAt` cancels the run (status
    /// `cancelled`) once the clock reaches it and everything due then has run. Cancelling
    /// the calling task cancels the run.
    public static func execute(
        _ pattern: any Pattern, parameters: ParameterSet, context: RunContext, clock: VirtualClock,
        timeLimit: Duration? = nil, realTimeLimit: Duration? = nil, cancelAt: Duration? = nil
    ) async -> Outcome {
        let stop = Locked<Stop?>(nil)
        let handle = RunTaskHandle()
        let halt: @Sendable (Stop) -> Void = { reason in
            stop.withLock { if $0 == nil { $0 = reason } }
            handle.cancel()
        }
        let executor: VirtualExecutor
        do {
            executor = try VirtualExecutor(clock: clock, timeLimit: timeLimit, held: true) { halt(.halted($0)) }
        } catch {
            let execution = RunExecution(
                status: .failed, outcome: nil, error: "could not start the run's thread: \(error)",
                timeline: context.recorder.timeline())
            return Outcome(execution: execution, stop: nil, endedAt: clock.now.offset)
        }
        let endedAt = Locked(Duration.zero)
        let cancelTimer = cancelAt.map { clock.schedule(at: .init(offset: $0)) { handle.cancel() } }
        // Unstructured so that a halt can cancel it synchronously, from the executor's own
        // thread (cancelling a child of a group would need a hop); awaited right below, and
        // cancelled with the caller, so it never outlives this call.
        let task = Task(executorPreference: executor) {
            let execution = await PatternRunner.execute(pattern, parameters: parameters, context: context)
            endedAt.withLock { $0 = clock.now.offset }
            executor.shutdown()
            return execution
        }
        handle.set(task)
        executor.release()
        let watchdog = realTimeLimit.map { limit in
            TimerQueue.shared.schedule(at: .now + limit) { halt(.realTimeLimit(limit)) }
        }
        let execution = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            handle.cancel()
        }
        if let cancelTimer { clock.cancel(timer: cancelTimer) }
        if let watchdog { TimerQueue.shared.cancel(timer: watchdog) }
        return outcome(execution, stoppedBecause: stop.value, endedAt: endedAt.value)
    }

    /// A run that a stop cancelled ended `failed`, saying why; any other as it ended.
    private static func outcome(_ execution: RunExecution, stoppedBecause stop: Stop?, endedAt: Duration) -> Outcome {
        guard let stop, execution.status == .cancelled else {
            return Outcome(execution: execution, stop: nil, endedAt: endedAt)
        }
        let failed = RunExecution(
            status: .failed, outcome: execution.outcome, error: stop.description, timeline: execution.timeline)
        return Outcome(execution: failed, stop: stop, endedAt: endedAt)
    }
}

/// The run's task, once it exists, and whether it was cancelled before: a cancellation
/// that comes before the task is known is applied when it is.
private final class RunTaskHandle: Sendable {
    private let state = Mutex<(task: Task<RunExecution, Never>?, cancelled: Bool)>((nil, false))

    func set(_ task: Task<RunExecution, Never>) {
        let cancelled = state.withLock { state -> Bool in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state -> Task<RunExecution, Never>? in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}
