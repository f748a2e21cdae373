import Patterns

/// Everything the Runs layer refuses or fails at; LabServer maps each case to one status.
public enum RunsError: Error, Sendable {
    case unknownPattern(String)
    case invalidParameters([FieldIssue])
    /// Over the concurrent-run bound: try again after `retryAfterSeconds`.
    case tooManyRuns(limit: Int, retryAfterSeconds: Int)
    case runNotFound(String)
    case alreadyEnded(RunRecord)
    case shuttingDown
    /// The store failed; the message is for the log, not for clients.
    case storeUnavailable(String)
}
