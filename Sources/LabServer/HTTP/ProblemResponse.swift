import LabJSON
import MicroHTTP
import Patterns
import Runs

/// RFC 9457 problem details: the one mapping from errors to HTTP statuses.
public enum ProblemResponse {
    public static func make(for error: LabError, instance: String? = nil) -> Response {
        switch error {
        case .notFound(let detail):
            problem(404, "Not Found", detail, type: "not-found", instance: instance)
        case .methodNotAllowed(let allowed):
            problem(
                405, "Method Not Allowed", "this resource allows \(allowed.joined(separator: ", "))",
                type: "method-not-allowed", instance: instance, headers: [("Allow", allowed.joined(separator: ", "))])
        case .badRequest(let detail, let field):
            problem(
                400, "Bad Request", detail, type: "bad-request", instance: instance,
                errors: field.map { [FieldIssue(field: $0, message: detail)] } ?? [])
        case .unsupportedMediaType(let detail):
            problem(415, "Unsupported Media Type", detail, type: "unsupported-media-type", instance: instance)
        case .notAcceptable(let detail):
            problem(406, "Not Acceptable", detail, type: "not-acceptable", instance: instance)
        case .tooManySubscribers(let limit):
            problem(
                503, "Too Many Subscribers", "at most \(limit) event streams may be open at once; try again shortly",
                type: "too-many-subscribers", instance: instance, headers: [("Retry-After", "1")])
        case .unauthorized:
            problem(
                401, "Unauthorized", "this method needs 'Authorization: Bearer <token>'", type: "unauthorized",
                instance: instance, headers: [("WWW-Authenticate", "Bearer")])
        case .runs(let runsError):
            make(for: runsError, instance: instance)
        }
    }

    static func make(for error: RunsError, instance: String?) -> Response {
        switch error {
        case .unknownPattern(let name):
            problem(404, "Unknown Pattern", "no pattern is named '\(name)'; GET /patterns lists them", type: "unknown-pattern", instance: instance)
        case .invalidParameters(let issues):
            problem(
                422, "Invalid Parameters", issues.map(\.description).joined(separator: "; "),
                type: "invalid-parameters", instance: instance, errors: issues)
        case .tooManyRuns(let limit, let retryAfter):
            problem(
                429, "Too Many Runs", "at most \(limit) runs may be active at once; try again shortly",
                type: "too-many-runs", instance: instance, headers: [("Retry-After", String(retryAfter))])
        case .runNotFound(let id):
            problem(404, "Run Not Found", "no run has id '\(id)'", type: "run-not-found", instance: instance)
        case .alreadyEnded(let record):
            problem(
                409, "Run Already Ended", "run \(record.id) already ended with status '\(record.status.rawValue)'",
                type: "run-already-ended", instance: instance, extra: ["run": record.json(summary: true, links: ResourcePaths.runLinks)])
        case .shuttingDown:
            problem(
                503, "Shutting Down", "the server is shutting down and takes no new runs", type: "shutting-down",
                instance: instance, headers: [("Retry-After", "5")])
        case .storeUnavailable:
            problem(
                503, "Store Unavailable", "the run store could not be read; runs in memory are still served",
                type: "store-unavailable", instance: instance, headers: [("Retry-After", "5")])
        }
    }

    static func problem(
        _ status: Int, _ title: String, _ detail: String, type: String, instance: String?,
        headers: [(String, String)] = [], errors: [FieldIssue] = [], extra: [String: JSONValue] = [:]
    ) -> Response {
        var body: [String: JSONValue] = [
            "type": .string("urn:concurrency-lab:problem:\(type)"), "title": .string(title),
            "status": .int(status), "detail": .string(detail),
        ]
        if let instance { body["instance"] = .string(instance) }
        if !errors.isEmpty {
            body["errors"] = .array(errors.map { ["field": .string($0.field), "message": .string($0.message)] })
        }
        body.merge(extra) { current, _ in current }
        return Response(
            status: status, headers: [("Content-Type", "application/problem+json")] + headers,
            body: .bytes(JSONValue.object(body).serializedBytes()))
    }
}
