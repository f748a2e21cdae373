/// One HTTP response as a test sees it.
public struct HTTPTestResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// True when the server said it will close the connection after this response.
    public var closesConnection: Bool { header("Connection")?.lowercased() == "close" }
}

/// Errors of the test client; each says what the server did wrong.
public enum HTTPTestError: Error, Sendable {
    case connectFailed(errno: Int32)
    case timedOut(waitingFor: String)
    case closedByPeer
    case malformed(String)
}

/// An incremental HTTP/1.1 response parser: bytes go in as they arrive, whole pieces come out
/// once complete. Handles `Content-Length`, chunked and close-delimited bodies.
public struct HTTPResponseParser: Sendable {
    public enum Chunk: Equatable, Sendable {
        case data([UInt8])
        case end
    }

    private(set) var buffer: [UInt8] = []

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Takes the status line and header fields, once all of them have arrived.
    public mutating func takeHead() throws -> HTTPTestResponse? {
        guard let end = find([13, 10, 13, 10]) else { return nil }
        let lines = String(decoding: buffer[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        buffer.removeFirst(end + 4)
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HTTPTestError.malformed("status line \(lines.first ?? "")")
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            return (String(line[..<colon]), String(value))
        }
        return HTTPTestResponse(status: status, headers: headers, body: [])
    }

    /// Takes the body of `head`, once all of it has arrived; `peerClosed` ends a close-delimited one.
    public mutating func takeBody(of head: HTTPTestResponse, peerClosed: Bool) throws -> [UInt8]? {
        if head.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            var saved = self
            var body: [UInt8] = []
            while let chunk = try saved.takeChunk() {
                guard case .data(let bytes) = chunk else {
                    self = saved
                    return body
                }
                body += bytes
            }
            return nil
        }
        if let length = head.header("Content-Length").flatMap({ Int($0) }) {
            guard buffer.count >= length else { return nil }
            defer { buffer.removeFirst(length) }
            return Array(buffer.prefix(length))
        }
        if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return [] }
        guard peerClosed else { return nil }
        defer { buffer = [] }
        return buffer
    }

    /// Takes the next chunk of a chunked body, once all of it has arrived.
    public mutating func takeChunk() throws -> Chunk? {
        guard let lineEnd = find([13, 10]) else { return nil }
        let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
        guard let size = Int(sizeText.filter { $0 != " " }, radix: 16) else {
            throw HTTPTestError.malformed("chunk size \(sizeText)")
        }
        if size == 0 {
            // The last chunk, then (no trailers from our servers) an empty line.
            guard let end = find([13, 10, 13, 10]) else { return nil }
            buffer.removeFirst(end + 4)
            return .end
        }
        let total = lineEnd + 2 + size + 2
        guard buffer.count >= total else { return nil }
        defer { buffer.removeFirst(total) }
        return .data(Array(buffer[(lineEnd + 2)..<(lineEnd + 2 + size)]))
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for start in 0...(buffer.count - pattern.count) where buffer[start] == pattern[0] {
            if buffer[start..<(start + pattern.count)].elementsEqual(pattern) { return start }
        }
        return nil
    }
}
