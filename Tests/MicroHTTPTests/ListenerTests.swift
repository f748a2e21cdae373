import Testing

@testable import MicroHTTP
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("Listener: a backlog larger than one socket's is split over several on the port")
struct ListenerTests {
    @Test func socketCount_isTheBacklogOverSomaxconn_roundedUp_andBounded() {
        #expect(Listener.socketCount(backlog: 16_384, somaxconn: 4_096) == 4)
        #expect(Listener.socketCount(backlog: 4_096, somaxconn: 4_096) == 1)
        #expect(Listener.socketCount(backlog: 4_097, somaxconn: 4_096) == 2)
        #expect(Listener.socketCount(backlog: 100_000, somaxconn: 128) == Listener.maxSockets)
        #expect(Listener.socketCount(backlog: 16_384, somaxconn: nil) == 1)
        #expect(Listener.socketCount(backlog: 16_384, somaxconn: 0) == 1)
    }

    @Test func theSystemSomaxconn_isRead() throws {
        let value = try #require(Listener.systemSomaxconn())
        #expect(value > 0)
    }

    @Test func theBacklogPerSocket_isAtMostSomaxconn() throws {
        let listener = try Listener(host: "127.0.0.1", port: 0, backlog: 1_000, somaxconn: 16)
        defer { listener.close() }
        #expect(listener.sockets.count == Listener.maxSockets)
        #expect(listener.backlogPerSocket == 16)
    }

    /// Nothing accepts (the accept thread is not started), so every handshake must wait in a
    /// kernel queue: 24 fit in four queues of 16 (the kernel takes one more than the backlog);
    /// one queue of 16 drops the SYNs past 17. Counted on the server (each listen socket's
    /// accept queue, TCP_INFO): a client whose last ACK the server dropped thinks it is connected.
    @Test func aBurstPastOneSocketsBacklog_waitsInTheOtherSockets() throws {
        let split = try Listener(host: "127.0.0.1", port: 0, backlog: 64, somaxconn: 16)
        defer { split.close() }
        #expect(split.sockets.count == 4)
        #expect(split.backlogPerSocket == 16)
        #expect(queued(afterConnecting: 24, to: split, expecting: 24) == 24)

        let single = try Listener(host: "127.0.0.1", port: 0, backlog: 16, somaxconn: 16)
        defer { single.close() }
        #expect(single.sockets.count == 1)
        #expect(queued(afterConnecting: 24, to: single, expecting: 24) == 17)
    }

    @Test func aPortInUse_failsToStart_evenWhenBothWouldShareIt() throws {
        let first = try Listener(host: "127.0.0.1", port: 0, backlog: 64, somaxconn: 16)
        #expect(first.sockets.count == 4)
        #expect(throws: ServerError.self) {
            let second = try Listener(host: "127.0.0.1", port: first.port, backlog: 64, somaxconn: 16)
            second.close()
        }
        #expect(throws: ServerError.self) {
            let second = try Listener(host: "127.0.0.1", port: first.port, backlog: 16, somaxconn: 16)
            second.close()
        }
        let port = first.port
        first.close()
        let second = try Listener(host: "127.0.0.1", port: port, backlog: 64, somaxconn: 16)
        #expect(second.port == port)
        second.close()
    }

    @Test func theAcceptThread_isNamedLabAccept() throws {
        let listener = try Listener(host: "127.0.0.1", port: 0, backlog: 16)
        defer { listener.close() }
        let seen = Mutex<String?>(nil)
        try listener.start(admit: { descriptor, _, _ in close(descriptor) }, refuse: { close($0) }) {
            seen.withLock { $0 = currentThreadName() }
        }
        // The first tick comes after `tickIntervalMs`: 50 looks of 20 ms bound the wait.
        for _ in 0..<50 where seen.withLock({ $0 }) == nil { usleep(20_000) }
        listener.stop()
        #expect(seen.withLock { $0 } == "lab-accept")
    }

    /// Opens `count` non-blocking connections to the listener's port and returns how many wait
    /// in its sockets' accept queues: once `expecting` do, or after 0.5 s (a dropped SYN is
    /// sent again only after a second).
    private func queued(afterConnecting count: Int, to listener: Listener, expecting: Int) -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = listener.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var clients: [Int32] = []
        defer { for client in clients { close(client) } }
        for _ in 0..<count {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard client >= 0 else { continue }
            clients.append(client)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var waiting = 0
        for _ in 0..<50 {
            waiting = listener.sockets.reduce(0) { $0 + Self.acceptQueueLength($1) }
            if waiting >= expecting { break }
            usleep(10_000)
        }
        return waiting
    }

    /// Connections waiting in a listen socket's accept queue (`tcpi_unacked` of a listener).
    private static func acceptQueueLength(_ socket: Int32) -> Int {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(socket, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return -1 }
        return Int(info.tcpi_unacked)
    }
}
