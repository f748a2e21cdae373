import CMicroHTTPD

/// Copies a request out of libmicrohttpd's connection memory (valid only during the callback)
/// into a Sendable `Request`.
enum RequestReader {
    /// The whole request, on the final handler call.
    static func request(_ connection: OpaquePointer, _ context: ConnectionContext, ids: RequestIDGenerator) -> Request {
        let headers = headers(connection)
        return Request(
            id: ids.id(echoing: headers["X-Request-Id"]),
            method: context.method,
            path: context.path,
            query: context.query,
            headers: headers,
            body: context.body,
            remoteAddress: context.remoteAddress,
            received: context.started
        )
    }

    /// Every header field, in order.
    static func headers(_ connection: OpaquePointer) -> HTTPHeaders {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(8)
        withUnsafeMutablePointer(to: &fields) { fieldsPointer in
            _ = MHD_get_connection_values_n(connection, .HEADER_KIND, { cls, _, key, keySize, value, valueSize in
                guard let cls, let key else { return .YES }
                let fields = cls.assumingMemoryBound(to: [(name: String, value: String)].self)
                fields.pointee.append((
                    name: RequestReader.string(key, count: keySize),
                    value: value.map { RequestReader.string($0, count: valueSize) } ?? ""
                ))
                return .YES
            }, fieldsPointer)
        }
        return HTTPHeaders(fields)
    }

    /// One header's value (the first, case-insensitively).
    static func header(_ connection: OpaquePointer, _ name: String) -> String? {
        MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
    }

    /// The declared body length, when the request has a valid `Content-Length`.
    static func contentLength(_ connection: OpaquePointer) -> Int? {
        guard let value = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length") else {
            return nil
        }
        return Int(String(cString: value).trimmingSpaces)
    }

    fileprivate static func string(_ pointer: UnsafePointer<CChar>, count: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
