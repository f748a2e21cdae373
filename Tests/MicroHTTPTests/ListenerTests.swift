import Testing

@testable import MicroHTTP

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

    /// Nothing accepts (the accept thread is not started), so every handshake must wait in a
    /// kernel queue: 24 fit in four queues of 16 (the kernel takes one more than the backlog);
    /// one queue of 16 drops the SYNs past 17, whose clients stay unconnected.
    @Test func aBurstPastOneSocketsBacklog_waitsInTheOtherSockets() throws {
        let split = try Listener(host: "127.0.0.1", port: 0, backlog: 64, somaxconn: 16)
        defer { split.close() }
        #expect(split.sockets.count == 4)
        #expect(split.backlogPerSocket == 16)
        #expect(connected(of: 24, to: split.port, expecting: 24) == 24)

        let single = try Listener(host: "127.0.0.1", port: 0, backlog: 16, somaxconn: 16)
        defer { single.close() }
        #expect(single.sockets.count == 1)
        #expect(connected(of: 24, to: single.port, expecting: 24) == 17)
    }

    @Test func aPortInUse_failsToStart_evenWhenBothWouldShareIt() throws {
        let first = try Listener(host: "127.0.0.1", port: 0, backlog: 64, somaxconn: 16)
        #expect(first.sockets.count == 4)
        #expect(throws: ServerError.self) {
            _ = try Listener(host: "127.0.0.1", port: first.port, backlog: 64, somaxconn: 16)
        }
        let port = first.port
        first.close()
        let second = try Listener(host: "127.0.0.1", port: port, backlog: 64, somaxconn: 16)
        #expect(second.port == port)
        second.close()
    }

    /// Opens `count` non-blocking connections to `port` and returns how many completed their
    /// handshake: waits until `expecting` have, or for 1.5 s (a dropped SYN is sent again only
    /// after a second, into the same full queue).
    private func connected(of count: Int, to port: UInt16, expecting: Int) -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var polled: [pollfd] = []
        for _ in 0..<count {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard client >= 0 else { continue }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            polled.append(pollfd(fd: client, events: Int16(POLLOUT), revents: 0))
        }
        defer { for entry in polled { close(entry.fd) } }
        var established = Set<Int32>()
        for _ in 0..<30 where established.count < expecting {
            _ = poll(&polled, nfds_t(polled.count), 50)
            for entry in polled where entry.revents & Int16(POLLOUT) != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 { established.insert(entry.fd) }
            }
            for index in polled.indices where established.contains(polled[index].fd) { polled[index].events = 0 }
        }
        return established.count
    }
}
