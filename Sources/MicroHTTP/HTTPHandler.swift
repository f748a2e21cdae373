/// The application side of a `Server`: turns a request into a response.
///
/// `handle(_:)` is called once per request, on libmicrohttpd's own thread, once the request is
/// complete; it must not block. It decides the path the request takes (routing happens once,
/// here, and what it found travels with the answer):
/// - `.now(response)` for anything that never waits (health, catalog, static files): the
///   response is queued at once, with no suspension, no task and no thread hop, which is what
///   keeps such routes close to plain C.
/// - `.later(respond)` for the rest: `respond` runs in a Swift task while the connection is
///   suspended, under the server's admission limit and request deadline. When the deadline
///   passes the task is cancelled and its late result discarded, so honour cancellation.
public protocol HTTPHandler: Sendable {
    func handle(_ request: Request) -> Handling
}

/// How a request is answered: now, on the server's thread, or later, in a task.
public enum Handling: Sendable {
    case now(Response)
    case later(@Sendable (Request) async -> Response)
}
