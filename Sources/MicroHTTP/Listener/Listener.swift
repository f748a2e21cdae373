import CMicroHTTPD
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The listen sockets and the one thread that accepts on them, in place of libmicrohttpd's own
/// accept (the daemon runs with `MHD_USE_NO_LISTEN_SOCKET` and gets each connection through
/// `MHD_add_connection`).
///
/// Why our own: at its connection limit libmicrohttpd stops polling its listen socket, so every
/// connection past the limit waited in the kernel's backlog, unanswered, for as long as the
/// others stayed open (event streams stay for minutes). Here each accepted connection goes to
/// `admit`, which hands it to libmicrohttpd or answers it at once (503) and closes it.
///
/// Accepting drains the backlog in one pass per wake-up (`accept4` until `EAGAIN`), which is
/// what lets a burst of thousands of connections in at once. When the process is out of
/// descriptors, a spare one (kept open on /dev/null) is given up to accept the waiting
/// connection so that it, too, can be answered and closed instead of left in the backlog; the
/// spare is taken back right after.
///
/// The backlog is what a burst can put in the kernel's queue while this thread waits for a
/// core (the workers and the clients on the same machine have them): a SYN past a full queue is
/// dropped, and its client tries again only a second later. The kernel caps one socket's
/// backlog at `net.core.somaxconn` (4,096 on Debian 12), so a larger `backlog` is split over
/// several sockets bound to the same port with `SO_REUSEPORT` (the kernel spreads connections
/// over them by address hash), at most `maxSockets`. A fresh server taking 10,000 connections
/// at once on one socket lost 83-367 SYNs in 3 tries of 8 (answered after 1.1 s instead of
/// 0.4 s); over four, none.
///
/// `SO_REUSEPORT` would also let a second server of the same user bind a port in use and take
/// half its connections: the first socket binds the port without it, which fails as before
/// when anyone holds the port, and sets it only once bound, for the others to join; a server of
/// ours started later fails the same way. (A process of the same user that binds the port with
/// `SO_REUSEPORT` itself, on purpose, would still join the group: the kernel allows that to
/// any process of the same user.)
///
/// Each pass takes at most `acceptBatch` connections from a socket, starting from the next
/// socket each time, so a flood on one cannot starve the others (nor `tick`).
///
/// The thread also wakes every `tickIntervalMs` to call `tick` (libmicrohttpd's workers need a
/// nudge now and then: `ServerCore.wakeWorkers`).
final class Listener: @unchecked Sendable {
    /// How often the accept thread calls `tick`, in milliseconds (its poll's timeout).
    static let tickIntervalMs: Int32 = 100
    /// Listen sockets at most, whatever the backlog asked for.
    static let maxSockets = 8
    /// Connections taken from one socket before the thread looks at the others.
    static let acceptBatch = 256
    /// The listen sockets, all bound to `port`.
    let sockets: [Int32]
    let port: UInt16
    /// The backlog of each socket (what `listen` was given, at most `net.core.somaxconn`).
    let backlogPerSocket: Int
    /// Set before the sockets are shut down; the thread reads it after each wake-up.
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    private var admit: ((Int32, UnsafePointer<sockaddr>, socklen_t) -> Void)?
    private var refuse: ((Int32) -> Void)?
    private var tick: (() -> Void)?
    /// A descriptor held in reserve for refusing connections when none is left.
    private var spare: Int32 = -1

    /// Binds `host:port` (IPv4, numeric host) and listens with `backlog` in all, over as many
    /// sockets as `somaxconn` requires (`socketCount`); a `sendBufferBytes` becomes the SO_SNDBUF
    /// of every connection they accept.
    init(
        host: String, port: UInt16, backlog: Int, sendBufferBytes: Int? = nil,
        somaxconn: Int? = Listener.systemSomaxconn()
    ) throws(ServerError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw .invalidHost(host) }
        let kernelCap = somaxconn.flatMap { $0 > 0 ? $0 : nil }  // nil: unknown
        let count = Self.socketCount(backlog: backlog, somaxconn: kernelCap)
        let perSocket = min(max(1, (backlog + count - 1) / count), kernelCap ?? Int.max)
        // The first socket binds the port alone (no SO_REUSEPORT yet): it fails when the port is
        // in use, and picks one for port 0. Only then may others share it: the first stays bound
        // throughout, so no server starting meanwhile can take the port between two binds.
        let first = try Self.socket(bound: address, reusePort: false, sendBufferBytes: sendBufferBytes, host: host, port: port)
        guard let bound = Self.boundPort(first) else {
            _ = Glibc.close(first)
            throw .startFailed(host: host, port: port)
        }
        var sockets = [first]
        if count > 1 {
            var on: Int32 = 1
            guard setsockopt(first, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                _ = Glibc.close(first)
                throw .startFailed(host: host, port: bound)
            }
            address.sin_port = bound.bigEndian
            for _ in 1..<count {
                do {
                    sockets.append(try Self.socket(
                        bound: address, reusePort: true, sendBufferBytes: sendBufferBytes, host: host, port: bound))
                } catch {
                    for socket in sockets { _ = Glibc.close(socket) }
                    throw error
                }
            }
        }
        for socket in sockets where listen(socket, Int32(clamping: perSocket)) != 0 {
            for socket in sockets { _ = Glibc.close(socket) }
            throw .startFailed(host: host, port: bound)
        }
        self.sockets = sockets
        self.port = bound
        backlogPerSocket = perSocket
    }

    /// Sockets for `backlog` when the kernel caps each at `somaxconn` (unknown: one).
    static func socketCount(backlog: Int, somaxconn: Int?) -> Int {
        guard let somaxconn, somaxconn > 0 else { return 1 }
        return min(maxSockets, max(1, (backlog + somaxconn - 1) / somaxconn))
    }

    /// `net.core.somaxconn`, if it can be read.
    static func systemSomaxconn() -> Int? {
        let file = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { _ = Glibc.close(file) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(file, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer[..<count].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, as: UTF8.self))
    }

    /// A non-blocking TCP socket bound to `address` (SO_REUSEADDR, and SO_REUSEPORT if asked).
    private static func socket(
        bound address: sockaddr_in, reusePort: Bool, sendBufferBytes: Int?, host: String, port: UInt16
    ) throws(ServerError) -> Int32 {
        // Non-blocking: `acceptAll` drains the backlog until EAGAIN and the thread then waits in
        // `poll` (blocking, the last accept would wait there for the next client, and the
        // thread would miss its ticks).
        let socket = Glibc.socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw .startFailed(host: host, port: port) }
        var on: Int32 = 1
        _ = setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { _ = setsockopt(socket, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) }
        if let sendBufferBytes {
            var bytes = Int32(clamping: sendBufferBytes)
            _ = setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = address
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            _ = Glibc.close(socket)
            throw .startFailed(host: host, port: port)
        }
        return socket
    }

    private static func boundPort(_ socket: Int32) -> UInt16? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return named == 0 ? UInt16(bigEndian: address.sin_port) : nil
    }

    /// Starts the accept thread. `admit` runs on it for every accepted connection, `refuse` for
    /// one taken with the spare descriptor; each owns the descriptor it is given. `tick` runs on
    /// it about every `tickIntervalMs`, whether connections come or not.
    func start(
        admit: @escaping (Int32, UnsafePointer<sockaddr>, socklen_t) -> Void, refuse: @escaping (Int32) -> Void,
        tick: (() -> Void)? = nil
    ) throws(ServerError) {
        self.admit = admit
        self.refuse = refuse
        self.tick = tick
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let listener = Unmanaged<Listener>.fromOpaque(context!).takeRetainedValue()
            listener.acceptUntilStopped()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Listener>.fromOpaque(context).release()
            throw .startFailed(host: "accept thread", port: port)
        }
        self.thread = thread
    }

    /// Stops accepting: new connections are refused by the kernel from here on. Waits for the
    /// accept thread to end. The sockets stay open (closed by `close()`).
    func stop() {
        stopping.store(true, ordering: .releasing)
        // Shutting a listening socket down wakes a thread blocked polling it.
        for socket in sockets { _ = shutdown(socket, Int32(SHUT_RDWR)) }
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    func close() {
        for socket in sockets { _ = Glibc.close(socket) }
    }

    // MARK: the accept thread (the only one touching `admit` and `spare` once started)

    private func acceptUntilStopped() {
        cmhd_set_current_thread_name("lab-accept")
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
        var watched = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let clock = ContinuousClock()
        let interval = Duration.milliseconds(Self.tickIntervalMs)
        var nextTick = clock.now.advanced(by: interval)
        var start = 0
        var more = false
        while !stopping.load(ordering: .acquiring) {
            // A socket left with connections waiting is looked at again at once.
            let ready = poll(&watched, nfds_t(watched.count), more ? 0 : tick == nil ? -1 : Self.tickIntervalMs)
            if stopping.load(ordering: .acquiring) { break }
            more = false
            if ready > 0 {
                for offset in watched.indices {
                    let entry = watched[(start + offset) % watched.count]
                    if entry.revents != 0, !acceptAll(entry.fd) { more = true }
                }
                start = (start + 1) % watched.count
            }
            if let tick, clock.now >= nextTick {
                tick()
                nextTick = clock.now.advanced(by: interval)
            }
        }
        if spare >= 0 { _ = Glibc.close(spare) }
    }

    /// Accepts until the backlog of `socket` is empty (true) or `acceptBatch` were taken (false).
    private func acceptAll(_ socket: Int32) -> Bool {
        for _ in 0..<Self.acceptBatch {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cmhd_accept(socket, $0, &length)
                }
            }
            if client >= 0 {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { admit?(client, $0, length) }
                }
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EMFILE, ENFILE:
                refuseWithSpareDescriptor(socket)
                return true
            default:
                // EAGAIN: the backlog is empty. Anything else (the socket was shut down, ENOBUFS):
                // nothing more to take now; poll says when there is.
                return true
            }
        }
        return false
    }

    /// Out of descriptors: give up the spare to take one waiting connection, refuse it (the
    /// admit callback answers and closes), and take the spare back. Without a spare, wait a
    /// little rather than spin on a socket that stays readable.
    private func refuseWithSpareDescriptor(_ socket: Int32) {
        guard spare >= 0 else {
            usleep(10_000)
            return
        }
        _ = Glibc.close(spare)
        let client = cmhd_accept(socket, nil, nil)
        if client >= 0 { refuse?(client) }
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }
}
