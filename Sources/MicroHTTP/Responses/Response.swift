/// What a handler answers: a status, header fields, and either a whole body or a stream.
///
/// The server adds `X-Request-Id` (unless the handler set it) and lets libmicrohttpd add
/// `Content-Length`, `Date` and, for streams, `Transfer-Encoding: chunked`.
public struct Response: Sendable {
    /// The body of a response.
    public enum Body: Sendable {
        /// The whole body, known up front.
        case bytes([UInt8])
        /// A body produced over time (server-sent events, long downloads). The closure runs in
        /// its own task after the head is queued; the stream ends when it returns. It is
        /// cancelled when the client leaves or the server shuts down (see `StreamWriter`).
        case stream(@Sendable (StreamWriter) async -> Void)
        /// A body written by an owner that outlives the handler (an event fan-out serving many
        /// streams): the closure is given the writer once the stream is admitted, must return at
        /// once, and no task waits for the stream. The owner writes with `offer`, ends it with
        /// `finish`, and learns from the handler it gives `detach` when the client left or
        /// shutdown asks it to end.
        case attached(@Sendable (StreamWriter) -> Void)

        /// Starts the body's producer for `writer`, or hands `writer` to its owner.
        func begin(_ writer: StreamWriter) {
            switch self {
            case .bytes: preconditionFailure("a body of bytes has no stream")
            case .stream(let producer): writer.start(producer)
            case .attached(let attach): attach(writer)
            }
        }
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body that is already encoded.
    public static func json(status: Int = 200, bytes: [UInt8], headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: withContentType("application/json", headers), body: .bytes(bytes))
    }

    /// `Content-Type` first, then `headers`, with room for the two fields the layers above
    /// usually add (CORS, request id) so that adding them does not copy the array again.
    static func withContentType(_ type: String, _ headers: [(String, String)]) -> [(String, String)] {
        var all: [(String, String)] = []
        all.reserveCapacity(headers.count + 3)
        all.append(("Content-Type", type))
        all.append(contentsOf: headers)
        return all
    }

    /// A plain-text body, UTF-8.
    public static func text(status: Int = 200, _ text: String, headers: [(String, String)] = []) -> Response {
        Response(
            status: status,
            headers: withContentType("text/plain; charset=utf-8", headers),
            body: .bytes(Array(text.utf8))
        )
    }

    /// A streamed body with the given content type.
    public static func stream(
        status: Int = 200,
        contentType: String,
        headers: [(String, String)] = [],
        producer: @escaping @Sendable (StreamWriter) async -> Void
    ) -> Response {
        Response(status: status, headers: withContentType(contentType, headers), body: .stream(producer))
    }

    /// A stream whose writer goes to an owner (`Body.attached`).
    public static func attachedStream(
        status: Int = 200,
        contentType: String,
        headers: [(String, String)] = [],
        attach: @escaping @Sendable (StreamWriter) -> Void
    ) -> Response {
        Response(status: status, headers: withContentType(contentType, headers), body: .attached(attach))
    }

    /// The first value of the header `name` the handler set, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { HTTPHeaders.namesEqual($0.0, name) }?.1
    }

    /// True when the body is a stream.
    public var isStream: Bool {
        if case .bytes = body { return false }
        return true
    }
}
