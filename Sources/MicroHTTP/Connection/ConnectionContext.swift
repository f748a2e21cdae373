import Synchronization

/// What MicroHTTP keeps for one TCP connection, reused by each request on it (keep-alive), so
/// the fast path allocates nothing per request for its own bookkeeping.
///
/// Ownership: created when libmicrohttpd accepts the connection and released when it closes it
/// (`MHD_OPTION_NOTIFY_CONNECTION`). Every field except `handoff` belongs to the connection's MHD
/// thread: libmicrohttpd calls back for one connection from one thread at a time. (An
/// `InFlightCall` holds its context but touches only `handoff`.) The one field another thread
/// touches is `handoff`: the task that finishes an async request writes the
/// response there while the connection is suspended, then resumes it; the MHD thread takes it
/// when it calls the handler again. That is why this class is `@unchecked Sendable`.
final class ConnectionContext: @unchecked Sendable {
    enum Phase {
        /// Between requests.
        case idle
        /// The request line and headers are in; the handler has not been called yet.
        case headersReceived
        /// The handler was called once; body chunks (if any) are arriving.
        case receivingBody
        /// Suspended while an async handler runs; the next call queues `handoff`.
        case awaitingHandler
        /// A response is queued.
        case answered
    }

    /// A response waiting for the MHD thread to queue it.
    enum Pending: Sendable {
        case bytes(Response)
        case stream(Response, StreamWriter)
    }

    let remoteAddress: String?
    /// False for a connection the server handed libmicrohttpd only to wake a worker
    /// (`ServerCore.wakeWorkers`): it is not counted among the open connections.
    let counted: Bool

    var phase = Phase.idle
    /// The raw request target's two halves, as the client sent them: `/path` and what
    /// follows `?` (empty without one).
    var path = ""
    var query = ""
    var method = ""
    var requestID = ""
    /// When the request line was read: the start of the request's duration, for the access
    /// log and for the handler (`Request.received`).
    var started = ContinuousClock.Instant.now
    var body: [UInt8] = []
    var bodyTooLarge = false
    var responseBytes = 0
    var stream: StreamWriter?
    /// The async call answering this request, if any; its permit is returned on completion.
    var call: InFlightCall?

    private let handoff = Mutex<Pending?>(nil)

    init(remoteAddress: String?, counted: Bool = true) {
        self.remoteAddress = remoteAddress
        self.counted = counted
    }

    /// A new request on this connection: the URI log callback has its raw target, split here
    /// once into path and query (the handler, refusals and the access log all want the path).
    func beginRequest(target: UnsafeRawBufferPointer) {
        phase = .headersReceived
        if let mark = target.firstIndex(of: UInt8(ascii: "?")) {
            path = String(decoding: target[..<mark], as: UTF8.self)
            query = String(decoding: target[(mark + 1)...], as: UTF8.self)
        } else {
            path = String(decoding: target, as: UTF8.self)
            query = ""
        }
        started = .now
    }

    /// The request is over (answered or abandoned): drop what it held.
    func endRequest() {
        phase = .idle
        method = ""
        requestID = ""
        body = []
        bodyTooLarge = false
        responseBytes = 0
        stream = nil
        call = nil
    }

    /// Appends a body chunk, or marks the body too large once it would pass `limit`.
    func appendBody(_ chunk: UnsafeRawBufferPointer, limit: Int) {
        guard !bodyTooLarge else { return }
        if body.count + chunk.count > limit {
            bodyTooLarge = true
            body = []
        } else {
            body.append(contentsOf: chunk)
        }
    }

    /// Called by the winning task, while the connection is suspended, just before it resumes it.
    func setHandoff(_ pending: Pending) {
        handoff.withLock { $0 = pending }
    }

    /// Called on the MHD thread once the connection has been resumed.
    func takeHandoff() -> Pending? {
        handoff.withLock { pending in
            defer { pending = nil }
            return pending
        }
    }
}
