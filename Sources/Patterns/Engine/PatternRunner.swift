/// How one execution of a pattern ended, before the Runs layer adds ids and times.
public struct RunExecution: Sendable {
    public let status: RunStatus
    public let outcome: PatternOutcome?
    public let error: String?
    public let timeline: Timeline
}

/// Runs a pattern inside its context: announces `run.started`, classifies how it ended
/// (cancelled, failed, succeeded) and collects the timeline. It never throws: every way a
/// run can end is a value.
public enum PatternRunner {
    public static func execute(
        _ pattern: any Pattern, parameters: ParameterSet, context: RunContext
    ) async -> RunExecution {
        context.recorder.milestone("run.started", ["pattern": .string(pattern.name), "params": parameters.json])
        let status: RunStatus
        var outcome: PatternOutcome?
        var failure: String?
        do {
            outcome = try await pattern.run(parameters, context: context)
            status = Task.isCancelled ? .cancelled : .succeeded
        } catch is CancellationError {
            status = .cancelled
        } catch {
            status = Task.isCancelled ? .cancelled : .failed
            failure = String(describing: error)
        }
        context.recorder.flushProgress()
        return RunExecution(status: status, outcome: outcome, error: failure, timeline: context.recorder.timeline())
    }
}
