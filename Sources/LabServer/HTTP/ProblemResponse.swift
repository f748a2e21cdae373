import LabJSON
import MicroHTTP
import Patterns
import Runs

/// RFC 9457 problem details: the one mapping from errors to HTTP statuses, and the one writer
/// of problem bodies. MicroHTTP's own refusals (503, 413, 504) are rendered here too, through
/// `ServerConfiguration.refusalBody`, so every problem has the same fields and `type` URIs.
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
        case .refused(let refusal):
            refused(refusal, instance: instance)
        case .unauthorized:
            problem(
                401, "Unauthorized", "this method needs 'Authorization: Bearer <token>'", type: "unauthorized",
                instance: instance, headers: [("WWW-Authenticate", "Bearer")])
        case .runs(let runsError):
            make(for: runsError, instance: instance)
        case .runNotEnded(let id, let status):
            problem(
                409, "Run Not Ended", "run \(id) is \(status); its trace is written once it has ended (GET /runs/\(id)?wait=60 waits for that)",
                type: "run-not-ended", instance: instance)
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

    /// The body of each answer the HTTP server gives by itself: `ServerConfiguration.refusalBody`.
    public static let refusalBody: RefusalRenderer = refusalBody(headers: [])

    /// The same, with `headers` on every refusal (the CORS grant, when it is the same for every origin).
    public static func refusalBody(headers: [(String, String)]) -> RefusalRenderer {
        { refusal, path in
            let (title, detail, type) = describe(refusal)
            return RefusalBody(
                contentType: contentType, bytes: body(refusal.status, title, detail, type: type, instance: path),
                headers: headers)
        }
    }

    /// A refusal answered by LabServer itself: the same body and header fields as when the HTTP
    /// server answers it.
    static func refused(_ refusal: Refusal, instance: String?) -> Response {
        refusal.response(path: instance, render: refusalBody)
    }

    /// Title, detail and `type` of each refusal. A stream is refused for the subscriber limit:
    /// event streams are the server's only streams.
    private static func describe(_ refusal: Refusal) -> (title: String, detail: String, type: String) {
        switch refusal {
        case .overloaded(let limit):
            ("Overloaded", "at most \(limit) requests may be in progress at once; retry shortly", "overloaded")
        case .tooManyStreams(let limit):
            ("Too Many Subscribers", "at most \(limit) event streams may be open at once; try again shortly", "too-many-subscribers")
        case .tooManyConnections(let limit):
            ("Too Many Connections", "at most \(limit) connections may be open at once; retry shortly", "too-many-connections")
        case .shuttingDown:
            ("Shutting Down", "the server is shutting down", "shutting-down")
        case .bodyTooLarge(let limit):
            ("Content Too Large", "the request body exceeds the limit of \(limit) bytes", "content-too-large")
        case .timedOut(let timeout):
            ("Deadline Exceeded", "the request did not complete within \(timeout); it was cancelled", "deadline-exceeded")
        }
    }

    private static let contentType = "application/problem+json"

    static func problem(
        _ status: Int, _ title: String, _ detail: String, type: String, instance: String?,
        headers: [(String, String)] = [], errors: [FieldIssue] = [], extra: [String: JSONValue] = [:]
    ) -> Response {
        Response(
            status: status, headers: [("Content-Type", contentType)] + headers,
            body: .bytes(body(status, title, detail, type: type, instance: instance, errors: errors, extra: extra)))
    }

    private static func body(
        _ status: Int, _ title: String, _ detail: String, type: String, instance: String?,
        errors: [FieldIssue] = [], extra: [String: JSONValue] = [:]
    ) -> [UInt8] {
        var body: [String: JSONValue] = [
            "type": .string("urn:concurrency-lab:problem:\(type)"), "title": .string(title),
            "status": .int(status), "detail": .string(detail),
        ]
        if let instance { body["instance"] = .string(instance) }
        if !errors.isEmpty {
            body["errors"] = .array(errors.map { ["field": .string($0.field), "message": .string($0.message)] })
        }
        body.merge(extra) { current, _ in current }
        return JSONValue.object(body).serializedBytes()
    }
}
