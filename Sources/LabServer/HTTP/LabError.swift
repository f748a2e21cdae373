import MicroHTTP
import Runs

/// Every way a request can fail in LabServer. `ProblemResponse.make(for:)` is the one place
/// that turns these (and the Runs layer's errors) into statuses and problem bodies.
public enum LabError: Error, Sendable {
    case notFound(String)
    case methodNotAllowed(allowed: [String])
    /// 400 with where it went wrong (a JSON parse error's byte offset, a bad query value).
    case badRequest(String, field: String? = nil)
    case unsupportedMediaType(String)
    case notAcceptable(String)
    case runs(RunsError)
    /// What the HTTP server refuses by itself (and a handler refuses on its behalf, such as a
    /// stream past the stream limit): rendered like every other problem.
    case refused(Refusal)
    case unauthorized
    /// 409: what was asked of a run exists only once it has ended (its trace).
    case runNotEnded(id: String, status: String)
}
