/// One server-sent event frame (or a comment line, which has no event).
public struct SSEFrame: Sendable, Equatable {
    public var id: Int?
    public var event: String?
    public var data: String?
    public var retry: Int?
    public var comment: String?
}

/// Reads server-sent events from a streamed (chunked) response, frame by frame.
public final class SSEReader: @unchecked Sendable {
    private let client: HTTPTestClient
    private var buffer: [UInt8] = []
    /// Where the unread part of `buffer` starts; consumed bytes are dropped in bulk, so
    /// reading a long stream stays linear.
    private var start = 0
    private var ended = false

    /// `client` must have read the response head already.
    public init(client: HTTPTestClient) {
        self.client = client
    }

    /// The next frame, or nil when the stream ended.
    public func next() async throws -> SSEFrame? {
        while true {
            if let frame = takeFrame() { return frame }
            if ended { return nil }
            if let chunk = try await client.readChunk() {
                if start > 0 {
                    buffer.removeFirst(start)
                    start = 0
                }
                buffer += chunk
            } else {
                ended = true
            }
        }
    }

    /// Leaves: closes the connection, as a client that goes away does.
    public func close() {
        client.close()
    }

    /// Every frame until the stream ends.
    public func readAll() async throws -> [SSEFrame] {
        var frames: [SSEFrame] = []
        while let frame = try await next() { frames.append(frame) }
        return frames
    }

    private func takeFrame() -> SSEFrame? {
        guard let end = frameEnd() else { return nil }
        let text = String(decoding: buffer[start..<end], as: UTF8.self)
        start = end + 2
        var frame = SSEFrame()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") {
                frame.comment = String(line.dropFirst()).trimmingLeadingSpace
                continue
            }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]).trimmingLeadingSpace : ""
            switch field {
            case "id": frame.id = Int(value)
            case "event": frame.event = value
            case "data": frame.data = (frame.data.map { $0 + "\n" } ?? "") + value
            case "retry": frame.retry = Int(value)
            default: break
            }
        }
        return frame
    }

    private func frameEnd() -> Int? {
        guard buffer.count - start >= 2 else { return nil }
        for index in start..<(buffer.count - 1) where buffer[index] == 0x0A && buffer[index + 1] == 0x0A {
            return index
        }
        return nil
    }
}

extension String {
    fileprivate var trimmingLeadingSpace: String {
        hasPrefix(" ") ? String(dropFirst()) : self
    }
}
