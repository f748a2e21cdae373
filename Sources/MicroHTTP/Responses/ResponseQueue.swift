import CMicroHTTPD

/// Turns a `Response` into a libmicrohttpd response and queues it. Called only on the
/// connection's MHD thread, from the access handler: queueing from any other thread would touch
/// the connection's state unsynchronised.
enum ResponseQueue {
    /// Queues a response whose body is bytes.
    static func queue(_ response: Response, on connection: OpaquePointer, _ context: ConnectionContext) -> MHD_Result {
        guard case .bytes(let body) = response.body else {
            preconditionFailure("streamed responses go through queueStream")
        }
        guard let created = body.count >= lentBodyThreshold ? lend(body) : copy(body) else { return .NO }
        context.responseBytes = body.count
        return queue(created, response, on: connection, context)
    }

    /// Bodies at least this large are lent to libmicrohttpd rather than copied (`lend`).
    static let lentBodyThreshold = 64 * 1_024

    /// A response that owns a copy of `body` (MUST_COPY): for small bodies a copy costs less
    /// than a retained box and a release callback.
    private static func copy(_ body: [UInt8]) -> OpaquePointer? {
        body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
    }

    /// A response that reads `body` where it is: a finished run's JSON (800 KB for 10,000
    /// spans) is served without a copy, between a run's end and its answer or on every GET.
    ///
    /// Why the pointer stays valid after `withUnsafeBytes` returns: a native array's elements
    /// live in its heap buffer, which `LentBody` keeps alive until libmicrohttpd calls the
    /// release callback (when it destroys the response); nothing can write to that buffer
    /// meanwhile, since a mutation through any other reference to it copies first (the
    /// buffer is shared, so not uniquely referenced). Swift on Linux has no bridged arrays,
    /// whose elements could live elsewhere.
    private static func lend(_ body: [UInt8]) -> OpaquePointer? {
        let lent = Unmanaged.passRetained(LentBody(body))
        let base = lent.takeUnretainedValue().bytes.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
        let created = MHD_create_response_from_buffer_with_free_callback_cls(
            body.count, base, { cls in
                guard let cls else { return }
                Unmanaged<LentBody>.fromOpaque(cls).release()
            }, lent.toOpaque())
        if created == nil { lent.release() }
        return created
    }

    /// Queues a streamed response; `writer` is retained by libmicrohttpd until it releases the
    /// response, when `responseReleased()` ends the stream and frees its slot.
    static func queueStream(
        _ response: Response, writer: StreamWriter, on connection: OpaquePointer, _ context: ConnectionContext
    ) -> MHD_Result {
        let retained = Unmanaged.passRetained(writer)
        // The block size is what libmicrohttpd allocates (and clears) per response for readers of
        // unchunked bodies; a chunked stream's reader writes into the connection's own buffer,
        // so a small block costs nothing in throughput and saves memory per open stream.
        let created = MHD_create_response_from_callback(
            CMHD_SIZE_UNKNOWN, 128,
            { cls, _, buffer, capacity in
                guard let cls, let buffer else { return CMHD_CONTENT_READER_END_WITH_ERROR }
                let writer = Unmanaged<StreamWriter>.fromOpaque(cls).takeUnretainedValue()
                switch writer.read(into: UnsafeMutableRawPointer(buffer), capacity: capacity) {
                case .bytes(let count): return count
                case .suspended: return 0
                case .endOfStream: return CMHD_CONTENT_READER_END_OF_STREAM
                }
            },
            retained.toOpaque(),
            { cls in
                guard let cls else { return }
                Unmanaged<StreamWriter>.fromOpaque(cls).takeRetainedValue().responseReleased()
            }
        )
        guard let created else {
            retained.release()
            writer.responseReleased()
            return .NO
        }
        context.stream = writer
        return queue(created, response, on: connection, context)
    }

    /// `withCString` explicitly: passing a `String` where C wants a pointer copies a small
    /// string (15 bytes or fewer: most names, request ids) into a new heap array first.
    private static func addHeader(_ name: String, _ value: String, to response: OpaquePointer) {
        _ = name.withCString { name in
            value.withCString { value in MHD_add_response_header(response, name, value) }
        }
    }

    private static func queue(
        _ created: OpaquePointer, _ response: Response, on connection: OpaquePointer, _ context: ConnectionContext
    ) -> MHD_Result {
        var hasRequestID = false
        for (name, value) in response.headers {
            hasRequestID = hasRequestID || HTTPHeaders.namesEqual(name, "X-Request-Id")
            // libmicrohttpd refuses fields it manages itself (Content-Length) and malformed
            // ones; those are dropped rather than failing the response.
            addHeader(name, value, to: created)
        }
        if !hasRequestID {
            addHeader("X-Request-Id", context.requestID, to: created)
        }
        let status = (100...999).contains(response.status) ? UInt32(response.status) : 500
        let result = MHD_queue_response(connection, status, created)
        // Drops our reference; the connection holds its own until it is done with the response.
        MHD_destroy_response(created)
        return result
    }
}

/// A body lent to libmicrohttpd: holds its bytes until the response is destroyed.
private final class LentBody {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
