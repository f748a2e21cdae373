import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Many requests at once, each on its own connection, driven by one thread with `poll`:
/// hundreds of concurrent clients without hundreds of threads.
public enum ConcurrentHTTPRequests {
    /// Opens one connection per request, sends them all, then reads every response. Returns
    /// them in the order of `requests`. Throws when any is not complete within `timeout`.
    public static func send(
        _ requests: [[UInt8]], port: UInt16, timeout: Duration = .seconds(20)
    ) async throws -> [HTTPTestResponse] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "ConcurrentHTTPRequests").async {
                continuation.resume(with: Result { try run(requests, port: port, timeout: timeout) })
            }
        }
    }

    /// A GET with `Host`, as bytes.
    public static func get(_ target: String, headers: [(String, String)] = []) -> [UInt8] {
        var head = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    private struct Connection {
        let socket: Int32
        var parser = HTTPResponseParser()
        var head: HTTPTestResponse?
        var response: HTTPTestResponse?
    }

    private static func run(_ requests: [[UInt8]], port: UInt16, timeout: Duration) throws -> [HTTPTestResponse] {
        var connections = try requests.map { request in
            let socket = try HTTPTestClient.connect(port: port)
            let sent = request.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == request.count else { throw HTTPTestError.closedByPeer }
            return Connection(socket: socket)
        }
        defer { for connection in connections { close(connection.socket) } }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while connections.contains(where: { $0.response == nil }) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw HTTPTestError.timedOut(waitingFor: "concurrent responses") }
            try readAvailable(&connections, within: remaining)
        }
        return connections.compactMap(\.response)
    }

    /// Waits for any pending connection to be readable and parses what arrived.
    private static func readAvailable(_ connections: inout [Connection], within timeout: Duration) throws {
        let pending = connections.indices.filter { connections[$0].response == nil }
        var descriptors = pending.map { pollfd(fd: connections[$0].socket, events: Int16(POLLIN), revents: 0) }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + 1)
        guard poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        for (slot, index) in pending.enumerated() where descriptors[slot].revents != 0 {
            let count = recv(connections[index].socket, &buffer, buffer.count, 0)
            if count > 0 { connections[index].parser.append(buffer[..<count]) }
            try parse(&connections[index], peerClosed: count <= 0)
        }
    }

    private static func parse(_ connection: inout Connection, peerClosed: Bool) throws {
        if connection.head == nil { connection.head = try connection.parser.takeHead() }
        if let head = connection.head, let body = try connection.parser.takeBody(of: head, peerClosed: peerClosed) {
            var response = head
            response.body = body
            connection.response = response
        } else if peerClosed {
            throw HTTPTestError.closedByPeer
        }
    }
}
