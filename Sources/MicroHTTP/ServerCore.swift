import CMicroHTTPD
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Everything libmicrohttpd's callbacks need, reached from C through one `Unmanaged` pointer.
/// Lives as long as the daemon (the `Server` holds it retained until `MHD_stop_daemon` returns).
///
/// The request flow, per request on a connection (all on the connection's MHD thread):
/// 1. URI log callback: the connection's context records the raw target (`beginRequest`).
/// 2. First handler call: nothing is queued (that would cost keep-alive), except a 413 when
///    `Content-Length` is already over the limit: the body is then never read.
/// 3. Body calls: chunks are appended (`*upload_data_size = 0`).
/// 4. Final call: the request is copied into Sendable values and handed to the handler, which
///    answers on the spot, or the connection is suspended and an `InFlightCall` runs its answer.
/// 5. After the call resumes the connection, libmicrohttpd calls again: the handed-over response
///    is queued here, on the MHD thread, never from the task's thread.
/// 6. Completion callback: one access-log line, the call's permit is returned, and the context
///    is reset for the next request.
final class ServerCore: Sendable {
    let handler: any HTTPHandler
    let configuration: ServerConfiguration
    let deadlineTimers: any DeadlineTimers
    let budget: ConnectionBudget
    let admission: Admission
    let ledger = SuspensionLedger()
    let counters = ServerCounters()
    let requestIDs = RequestIDGenerator()
    let accessLog: AccessLog
    /// The body of the answer to a connection refused at accept, rendered once: a flood of
    /// connections is when it is written most.
    private let connectionRefusalBody: RefusalBody

    init(configuration: ServerConfiguration, budget: ConnectionBudget, handler: any HTTPHandler) {
        self.handler = handler
        self.configuration = configuration
        deadlineTimers = configuration.deadlineTimers
        self.budget = budget
        admission = Admission(maxInFlight: configuration.maxInFlight, maxStreams: budget.maxStreams)
        accessLog = AccessLog(logger: configuration.logger, writer: configuration.accessLogWriter)
        connectionRefusalBody = configuration.refusalBody(.tooManyConnections(limit: budget.connectionLimit), nil)
    }

    /// The answer for `refusal` to a request for `path`, its body rendered by the configuration's hook.
    func response(_ refusal: Refusal, path: String) -> Response {
        refusal.response(path: path, render: configuration.refusalBody)
    }

    /// The access handler: dispatches on where the request is in its life.
    func handle(
        _ connection: OpaquePointer, _ context: ConnectionContext, method: UnsafePointer<CChar>?,
        upload: UnsafeRawBufferPointer, uploadSize: UnsafeMutablePointer<Int>
    ) -> MHD_Result {
        switch context.phase {
        case .headersReceived:
            return firstCall(connection, context, method: method)
        case .receivingBody where uploadSize.pointee > 0:
            context.appendBody(upload, limit: configuration.maxBodyBytes)
            uploadSize.pointee = 0
            return .YES
        case .receivingBody:
            return finalCall(connection, context)
        case .awaitingHandler:
            return queueHandoff(connection, context)
        case .idle, .answered:
            // libmicrohttpd does not call again once a response is queued; refuse rather than
            // guess if it ever does.
            return .NO
        }
    }

    private func firstCall(
        _ connection: OpaquePointer, _ context: ConnectionContext, method: UnsafePointer<CChar>?
    ) -> MHD_Result {
        context.phase = .receivingBody
        context.method = method.map { String(cString: $0) } ?? ""
        guard let length = RequestReader.contentLength(connection) else { return .YES }
        if length > configuration.maxBodyBytes {
            context.requestID = requestIDs.id(echoing: RequestReader.header(connection, "X-Request-Id"))
            context.phase = .answered
            return ResponseQueue.queue(response(.bodyTooLarge(limit: configuration.maxBodyBytes), path: context.path), on: connection, context)
        }
        context.body.reserveCapacity(length)
        return .YES
    }

    private func finalCall(_ connection: OpaquePointer, _ context: ConnectionContext) -> MHD_Result {
        let request = RequestReader.request(connection, context, ids: requestIDs)
        context.requestID = request.id
        context.body = []
        if admission.isDraining {
            return answer(response(.shuttingDown, path: request.path), connection, context)
        }
        if context.bodyTooLarge {
            return answer(response(.bodyTooLarge(limit: configuration.maxBodyBytes), path: request.path), connection, context)
        }
        switch handler.handle(request) {
        case .now(let response):
            return answer(response, connection, context)
        case .later(let respond):
            return startCall(request, respond, connection, context)
        }
    }

    private func startCall(
        _ request: Request, _ respond: @escaping @Sendable (Request) async -> Response, _ connection: OpaquePointer,
        _ context: ConnectionContext
    ) -> MHD_Result {
        let call = InFlightCall(request: request, connection: ConnectionHandle(pointer: connection), context: context, core: self)
        do {
            try admission.admit(call)
        } catch {
            return answer(refusal(error, path: request.path, stream: false), connection, context)
        }
        context.phase = .awaitingHandler
        context.call = call
        ledger.suspend(connection)
        call.start(respond, timeout: configuration.requestTimeout)
        return .YES
    }

    /// Queues `response` now (on the MHD thread), starting its stream if it has one.
    private func answer(_ response: Response, _ connection: OpaquePointer, _ context: ConnectionContext) -> MHD_Result {
        context.phase = .answered
        guard response.isStream else {
            return ResponseQueue.queue(response, on: connection, context)
        }
        let writer = makeStreamWriter(for: ConnectionHandle(pointer: connection))
        do {
            try admission.admit(writer)
        } catch {
            return ResponseQueue.queue(refusal(error, path: context.path, stream: true), on: connection, context)
        }
        response.body.begin(writer)
        return ResponseQueue.queueStream(response, writer: writer, on: connection, context)
    }

    private func queueHandoff(_ connection: OpaquePointer, _ context: ConnectionContext) -> MHD_Result {
        context.phase = .answered
        switch context.takeHandoff() {
        case .bytes(let response):
            return ResponseQueue.queue(response, on: connection, context)
        case .stream(let response, let writer):
            return ResponseQueue.queueStream(response, writer: writer, on: connection, context)
        case nil:
            return .NO
        }
    }

    func makeStreamWriter(for connection: ConnectionHandle) -> StreamWriter {
        StreamWriter(
            connection: connection, ledger: ledger, admission: admission,
            highWaterMark: configuration.streamHighWaterMark
        )
    }

    /// The answer for a request or stream that admission turned away.
    func refusal(_ error: any Error, path: String, stream: Bool) -> Response {
        guard case Admission.Refusal.overloaded = error else { return response(.shuttingDown, path: path) }
        if stream {
            counters.streamRejections.wrappingAdd(1, ordering: .relaxed)
            return response(.tooManyStreams(limit: admission.maxStreams), path: path)
        }
        counters.admissionRejections.wrappingAdd(1, ordering: .relaxed)
        return response(.overloaded(limit: admission.maxInFlight), path: path)
    }

    /// `.tooManyStreams` (counted as a stream rejection) when a stream opened now would be
    /// refused, nil otherwise. Lets a handler refuse before it commits to a stream; the limit
    /// itself is enforced when the stream is admitted.
    func streamRefusal() -> Refusal? {
        guard !admission.hasRoomForStream else { return nil }
        counters.streamRejections.wrappingAdd(1, ordering: .relaxed)
        return .tooManyStreams(limit: admission.maxStreams)
    }

    /// A connection the listener accepted (on its thread): handed to libmicrohttpd, or answered
    /// 503 and closed when the server already holds its limit of connections or is draining.
    ///
    /// Invariant: open + pending connections never exceed `budget.connectionLimit`. Only this
    /// thread adds to `pendingConnections`, before handing the connection over; libmicrohttpd's
    /// start notification moves it to `openConnections`, and a refusal by libmicrohttpd (the
    /// per-address limit, no memory) takes it back here.
    func admitConnection(_ client: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, daemon: OpaquePointer) {
        let held = counters.openConnections.load(ordering: .relaxed) + counters.pendingConnections.load(ordering: .relaxed)
        if held >= budget.connectionLimit || admission.isDraining {
            refuseConnection(client)
            return
        }
        counters.pendingConnections.wrappingAdd(1, ordering: .relaxed)
        if MHD_add_connection(daemon, client, address, length) != .YES {
            // libmicrohttpd closed it without starting it.
            counters.pendingConnections.wrappingSubtract(1, ordering: .relaxed)
            counters.connectionRejections.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Wakes every libmicrohttpd worker once, if the server holds any connection.
    ///
    /// libmicrohttpd 0.9.75 can leave a worker asleep on events it has already taken: when one
    /// `epoll_wait` returns exactly its MAX_EVENTS (128), it calls `epoll_wait` again, with no
    /// timeout, before it serves them; its connections are edge-triggered, so the worker sleeps
    /// until something else reaches it (a C program on the library alone shows it: 128 requests
    /// arriving while the worker is busy go unanswered; 127 or 129 do not). It happened to the
    /// flood test in CI: 127 streams were answered only minutes later, when a new connection
    /// reached that worker. Any event wakes a worker, and the one we can give it is a connection:
    /// one end of a socketpair whose other end is closed at once, which libmicrohttpd takes
    /// through the worker's inter-thread channel, starts, reads the end of and closes. It picks
    /// the worker by the descriptor (`descriptor % workers`), so one per worker is handed over.
    /// Called by the accept thread every `Listener.tickIntervalMs`: a stall lasts that long at most.
    ///
    /// These connections are not counted (open, pending, metrics, the connection limit): the
    /// connection callback knows them by their address (`SocketAddress.wakeUp`). They go past
    /// the connection limit by one per worker for a moment, within the descriptors kept for the
    /// process.
    func wakeWorkers(daemon: OpaquePointer) {
        let held = counters.openConnections.load(ordering: .relaxed) + counters.pendingConnections.load(ordering: .relaxed)
        guard held > 0, !admission.isDraining else { return }
        let workers = max(1, configuration.threadPoolSize)
        var woken = [Bool](repeating: false, count: workers)
        var left = workers
        for _ in 0..<(2 * workers) where left > 0 {
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { return }
            let chosen = pair.firstIndex { !woken[Int($0) % workers] }
            for index in 0..<2 where index != chosen { close(pair[index]) }
            guard let chosen else { continue }
            woken[Int(pair[chosen]) % workers] = true
            left -= 1
            hand(pair[chosen], to: daemon)
        }
    }

    /// Hands an empty connection to libmicrohttpd (see `wakeWorkers`).
    private func hand(_ descriptor: Int32, to daemon: OpaquePointer) {
        var address = SocketAddress.wakeUp
        // On failure libmicrohttpd closed it without starting it: nothing to undo.
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                MHD_add_connection(daemon, descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Answers a connection that cannot be served with a 503 problem and closes it. The answer
    /// is written before the request is read: it fits a fresh socket's send buffer, so one
    /// non-blocking send takes it whole (or the client is already gone).
    func refuseConnection(_ client: Int32) {
        counters.connectionRejections.wrappingAdd(1, ordering: .relaxed)
        let refusal = Refusal.tooManyConnections(limit: budget.connectionLimit)
        let bytes = refusal.rawResponse(body: connectionRefusalBody, requestID: requestIDs.next())
        _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        close(client)
    }

    /// The request is over, whatever its outcome: log it and ready the context for the next.
    func requestCompleted(_ connection: OpaquePointer, _ context: ConnectionContext) {
        counters.requestsCompleted.wrappingAdd(1, ordering: .relaxed)
        accessLog.record(context, status: Int(cmhd_http_status(connection)))
        if let call = context.call { admission.retire(call) }
        context.endRequest()
    }
}
