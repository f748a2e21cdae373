/// The application side of a `Server`: turns a request into a response.
///
/// Two paths, chosen per request:
/// - `respondImmediately(to:)` runs on libmicrohttpd's own thread once the request is complete.
///   Return a response for anything that never waits (health, catalog, static files, metrics):
///   it is queued at once, with no suspension, no task and no thread hop, which is what keeps
///   such routes close to plain C. It must not block. Return nil to take the async path.
/// - `respond(to:)` runs in a Swift task while the connection is suspended, under the server's
///   admission limit and request deadline. When the deadline passes the task is cancelled and
///   its late result discarded, so honour cancellation.
public protocol HTTPHandler: Sendable {
    /// A response that needs no waiting, or nil. Called on an MHD thread; must not block.
    func respondImmediately(to request: Request) -> Response?

    /// The response, computed asynchronously. Called only when `respondImmediately` returned nil.
    func respond(to request: Request) async -> Response
}

extension HTTPHandler {
    /// By default every request takes the async path.
    public func respondImmediately(to request: Request) -> Response? { nil }
}
