/// An answer MicroHTTP gives by itself, before or instead of the handler's.
///
/// MicroHTTP decides the status and the protocol's header fields (`Retry-After`,
/// `Connection: close`); the body is rendered by `ServerConfiguration.refusalBody`, so that an
/// application can make these answers look like its own errors. Without it the body is one
/// line of plain text (MicroHTTP writes no JSON).
public enum Refusal: Sendable, Hashable {
    /// `maxInFlight` handlers are running: 503, try again in a second.
    case overloaded(limit: Int)
    /// `maxStreams` streams are open: 503, try again in a second.
    case tooManyStreams(limit: Int)
    /// The connection limit is reached (or the server is draining): answered at accept, before
    /// any request is read, then closed.
    case tooManyConnections(limit: Int)
    /// The server is draining for shutdown: 503, and the connection is closed.
    case shuttingDown
    /// The request body exceeds `maxBodyBytes`: 413, and the connection is closed (its body is
    /// never read).
    case bodyTooLarge(limit: Int)
    /// The handler missed `requestTimeout` and was cancelled: 504.
    case timedOut(after: Duration)

    public var status: Int {
        switch self {
        case .overloaded, .tooManyStreams, .tooManyConnections, .shuttingDown: 503
        case .bodyTooLarge: 413
        case .timedOut: 504
        }
    }

    /// The status line's reason phrase.
    public var reasonPhrase: String {
        switch status {
        case 413: "Content Too Large"
        case 504: "Gateway Timeout"
        default: "Service Unavailable"
        }
    }

    /// What happened, in one sentence (the default body says it).
    public var explanation: String {
        switch self {
        case .overloaded: "The server is at its limit of concurrent requests; retry shortly."
        case .tooManyStreams: "Too many open streams; retry shortly."
        case .tooManyConnections: "The server is at its limit of open connections; retry shortly."
        case .shuttingDown: "The server is shutting down."
        case .bodyTooLarge(let limit): "The request body exceeds the limit of \(limit) bytes."
        case .timedOut(let timeout): "The request did not complete within \(timeout)."
        }
    }

    /// The header fields the protocol needs, whoever renders the body.
    public var headers: [(String, String)] {
        switch self {
        case .overloaded, .tooManyStreams: [("Retry-After", "1")]
        case .tooManyConnections, .shuttingDown: [("Retry-After", "1"), ("Connection", "close")]
        case .bodyTooLarge: [("Connection", "close")]
        case .timedOut: []
        }
    }

    /// The response for a request to `path`, its body rendered by `render`: what the server
    /// answers, and what a handler answers when it refuses on the server's behalf.
    public func response(path: String?, render: RefusalRenderer) -> Response {
        let body = render(self, path)
        return Response(
            status: status, headers: Response.withContentType(body.contentType, headers + body.headers),
            body: .bytes(body.bytes))
    }

    /// The whole answer, head and body, to a connection refused at accept: no request was read,
    /// so it is written to the socket directly rather than through libmicrohttpd.
    func rawResponse(body: RefusalBody, requestID: String) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reasonPhrase)\r\nContent-Type: \(body.contentType)\r\n"
        for (name, value) in headers + body.headers { head += "\(name): \(value)\r\n" }
        head += "X-Request-Id: \(requestID)\r\nContent-Length: \(body.bytes.count)\r\n\r\n"
        return Array(head.utf8) + body.bytes
    }
}

/// Renders the body of a `Refusal`, given the request's path (nil at accept: no request was
/// read). Called on libmicrohttpd's threads and the listener's: it must not block.
public typealias RefusalRenderer = @Sendable (_ refusal: Refusal, _ path: String?) -> RefusalBody

/// A refusal's body: its media type and bytes, and any header fields the application adds
/// to every answer of its own (a CORS grant, say), so the refusal reads like one of them.
public struct RefusalBody: Sendable {
    public var contentType: String
    public var bytes: [UInt8]
    public var headers: [(String, String)]

    public init(contentType: String, bytes: [UInt8], headers: [(String, String)] = []) {
        self.contentType = contentType
        self.bytes = bytes
        self.headers = headers
    }

    /// The default: `503 Service Unavailable: The server is shutting down.` as plain text.
    public static let plainText: RefusalRenderer = { refusal, _ in
        RefusalBody(
            contentType: "text/plain; charset=utf-8",
            bytes: Array("\(refusal.status) \(refusal.reasonPhrase): \(refusal.explanation)\n".utf8))
    }
}
