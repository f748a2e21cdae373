extension Response {
    /// An RFC 9457 problem-details response (`application/problem+json`) with `type`, `title`,
    /// `status`, and `detail` / `instance` when given. `type` defaults to `about:blank`, which
    /// the RFC defines as "the status code says it all".
    public static func problem(
        status: Int,
        title: String,
        detail: String? = nil,
        type: String = "about:blank",
        instance: String? = nil,
        headers: [(String, String)] = []
    ) -> Response {
        var json = "{\"type\":" + JSONString.quoted(type)
            + ",\"title\":" + JSONString.quoted(title)
            + ",\"status\":" + String(status)
        if let detail { json += ",\"detail\":" + JSONString.quoted(detail) }
        if let instance { json += ",\"instance\":" + JSONString.quoted(instance) }
        json += "}"
        return Response(
            status: status,
            headers: withContentType("application/problem+json", headers),
            body: .bytes(Array(json.utf8))
        )
    }

    /// 503 for a request turned away by admission control: nothing was run, try again soon.
    static func overloaded(path: String) -> Response {
        .problem(
            status: 503, title: "Service Unavailable",
            detail: "The server is at its limit of concurrent requests; retry shortly.",
            instance: path, headers: [("Retry-After", "1")]
        )
    }

    /// 503 for a request that arrived while the server drains for shutdown.
    static func shuttingDown(path: String) -> Response {
        .problem(
            status: 503, title: "Service Unavailable",
            detail: "The server is shutting down.",
            instance: path, headers: [("Retry-After", "1"), ("Connection", "close")]
        )
    }

    /// 503 for a stream refused because the stream limit is reached.
    static func tooManyStreams(path: String) -> Response {
        .problem(
            status: 503, title: "Service Unavailable",
            detail: "Too many open streams; retry shortly.",
            instance: path, headers: [("Retry-After", "1")]
        )
    }

    /// The raw bytes answering a connection refused at accept (no request was read, so the
    /// response is written whole here rather than through libmicrohttpd).
    static func connectionRefusal(requestID: String) -> [UInt8] {
        let body = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
            + "\"detail\":\"The server is at its limit of open connections; retry shortly.\"}"
        let head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            + "Retry-After: 1\r\nConnection: close\r\nX-Request-Id: \(requestID)\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }

    /// 504 for a handler that missed its deadline (the handler was cancelled).
    static func timedOut(path: String, after timeout: Duration) -> Response {
        .problem(
            status: 504, title: "Gateway Timeout",
            detail: "The request did not complete within \(timeout).",
            instance: path
        )
    }

    /// 413 for a body over the limit.
    static func bodyTooLarge(path: String, limit: Int) -> Response {
        .problem(
            status: 413, title: "Content Too Large",
            detail: "The request body exceeds the limit of \(limit) bytes.",
            instance: path, headers: [("Connection", "close")]
        )
    }
}

/// JSON string literals, for the few documents MicroHTTP writes itself.
enum JSONString {
    /// `text` as a quoted JSON string, escaping what RFC 8259 requires.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
