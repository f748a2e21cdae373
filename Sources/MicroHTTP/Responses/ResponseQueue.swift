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
        // MUST_COPY: the array's storage is not ours to lend to C beyond this call.
        let created = body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let created else { return .NO }
        context.responseBytes = body.count
        return queue(created, response, on: connection, context)
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
