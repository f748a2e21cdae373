import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 client over one POSIX socket to 127.0.0.1, for integration tests.
///
/// It sends bytes as given (so tests can send malformed requests, or a request byte by byte),
/// reads responses with `Content-Length`, chunked or close-delimited bodies, keeps the
/// connection for the next request, and reads a streamed response chunk by chunk as it arrives
/// (Foundation on Linux has no streaming URLSession). Every read has a timeout, so a server
/// that never answers fails the test instead of hanging it.
///
/// The socket calls block, so they run on the client's own dispatch queue, never on the Swift
/// concurrency pool: blocking that pool (two threads here) could starve the server's handlers
/// that the test is waiting for. State is touched only on that queue, hence `@unchecked`.
public final class HTTPTestClient: @unchecked Sendable {
    private let socket: Int32
    private let timeout: Duration
    private let queue = DispatchQueue(label: "HTTPTestClient")
    private var parser = HTTPResponseParser()
    private var peerClosed = false

    /// Connects to `127.0.0.1:port`. A small `receiveBufferBytes` makes a client whose unread
    /// bytes back up to the server quickly, as a slow reader's do.
    public init(port: UInt16, timeout: Duration = .seconds(10), receiveBufferBytes: Int32? = nil) throws {
        socket = try HTTPTestClient.connect(port: port, receiveBufferBytes: receiveBufferBytes)
        self.timeout = timeout
    }

    deinit { Glibc.close(socket) }

    /// Sends one GET (or any method) with `Host` set, and reads its response.
    public func request(
        _ method: String = "GET", _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> HTTPTestResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        try await send(Array((head + "\r\n").utf8) + (body ?? []))
        return try await readResponse()
    }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) async throws {
        try await onQueue { try self.sendAll(bytes) }
    }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Reads one whole response.
    public func readResponse() async throws -> HTTPTestResponse {
        let head = try await readHead()
        var response = head
        response.body = try await onQueue {
            try self.fill(until: "response body") { parser, closed in try parser.takeBody(of: head, peerClosed: closed) }
        }
        return response
    }

    /// Reads the status line and headers only (then `readChunk()` for a streamed body).
    public func readHead() async throws -> HTTPTestResponse {
        try await onQueue { try self.fill(until: "response head") { parser, _ in try parser.takeHead() } }
    }

    /// The next chunk of a chunked body as soon as it has arrived; nil after the last one.
    public func readChunk() async throws -> [UInt8]? {
        let chunk = try await onQueue { try self.fill(until: "chunk") { parser, _ in try parser.takeChunk() } }
        guard case .data(let bytes) = chunk else { return nil }
        return bytes
    }

    /// Waits until the server closes the connection (true), or `timeout` passes (false).
    /// Bytes arriving meanwhile are kept for later reads.
    public func waitForClose() async -> Bool {
        (try? await onQueue {
            try self.fill(until: "close") { _, closed in closed ? true : nil }
        }) ?? false
    }

    /// Drops the connection at once, as a client that leaves does.
    public func close() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Reads until `take` returns a value; throws on timeout, or when the peer closed first.
    private func fill<T>(until what: String, _ take: (inout HTTPResponseParser, Bool) throws -> T?) throws -> T {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let value = try take(&parser, peerClosed) { return value }
            if peerClosed { throw HTTPTestError.closedByPeer }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, try HTTPTestClient.waitReadable(socket, within: remaining) else {
                throw HTTPTestError.timedOut(waitingFor: what)
            }
            var bytes = [UInt8](repeating: 0, count: 64 * 1024)
            let count = recv(socket, &bytes, bytes.count, 0)
            if count > 0 { parser.append(bytes[..<count]) } else { peerClosed = true }
        }
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw HTTPTestError.closedByPeer }
            offset += sent
        }
    }
}

extension HTTPTestClient {
    /// A connected TCP socket to 127.0.0.1:`port`.
    static func connect(port: UInt16, receiveBufferBytes: Int32? = nil) throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestError.connectFailed(errno: errno) }
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            Glibc.close(fd)
            throw HTTPTestError.connectFailed(errno: error)
        }
        return fd
    }

    /// True when `fd` has bytes (or EOF) to read within `timeout`.
    static func waitReadable(_ fd: Int32, within timeout: Duration) throws -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000 + 1)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR { throw HTTPTestError.malformed("poll failed: \(errno)") }
        return ready > 0
    }
}
