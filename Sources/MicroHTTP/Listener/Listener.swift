import CMicroHTTPD
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The listen socket and the one thread that accepts on it, in place of libmicrohttpd's own
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
/// The thread also wakes every `tickIntervalMs` to call `tick` (libmicrohttpd's workers need a
/// nudge now and then: `ServerCore.wakeWorkers`).
final class Listener: @unchecked Sendable {
    /// How often the accept thread calls `tick`, in milliseconds (its poll's timeout).
    static let tickIntervalMs: Int32 = 100
    let socket: Int32
    let port: UInt16
    /// Set before the socket is shut down; the thread reads it after each wake-up.
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    private var admit: ((Int32, UnsafePointer<sockaddr>, socklen_t) -> Void)?
    private var refuse: ((Int32) -> Void)?
    private var tick: (() -> Void)?
    /// A descriptor held in reserve for refusing connections when none is left.
    private var spare: Int32 = -1

    /// Binds `host:port` (IPv4, numeric host) and listens with `backlog`; a `sendBufferBytes`
    /// becomes the SO_SNDBUF of every connection it accepts.
    init(host: String, port: UInt16, backlog: Int, sendBufferBytes: Int? = nil) throws(ServerError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw .invalidHost(host) }
        // Non-blocking: `acceptAll` drains the backlog until EAGAIN and the thread then waits in
        // `poll` (blocking, the last accept would wait there for the next client, and the
        // thread would miss its ticks).
        let socket = Glibc.socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw .startFailed(host: host, port: port) }
        var on: Int32 = 1
        _ = setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if let sendBufferBytes {
            var bytes = Int32(clamping: sendBufferBytes)
            _ = setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socket, Int32(clamping: backlog)) == 0 else {
            _ = Glibc.close(socket)
            throw .startFailed(host: host, port: port)
        }
        self.socket = socket
        self.port = Self.boundPort(socket) ?? port
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
    /// accept thread to end. The socket stays open (closed by `close()`).
    func stop() {
        stopping.store(true, ordering: .releasing)
        // Shutting a listening socket down wakes a thread blocked polling it.
        _ = shutdown(socket, Int32(SHUT_RDWR))
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    func close() {
        _ = Glibc.close(socket)
    }

    // MARK: the accept thread (the only one touching `admit` and `spare` once started)

    private func acceptUntilStopped() {
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
        var watched = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let clock = ContinuousClock()
        let interval = Duration.milliseconds(Self.tickIntervalMs)
        var nextTick = clock.now.advanced(by: interval)
        while !stopping.load(ordering: .acquiring) {
            let ready = poll(&watched, 1, tick == nil ? -1 : Self.tickIntervalMs)
            if stopping.load(ordering: .acquiring) { break }
            if ready > 0 { acceptAll() }
            if let tick, clock.now >= nextTick {
                tick()
                nextTick = clock.now.advanced(by: interval)
            }
        }
        if spare >= 0 { _ = Glibc.close(spare) }
    }

    /// Accepts until the backlog is empty.
    private func acceptAll() {
        while true {
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
                refuseWithSpareDescriptor()
                return
            default:
                // EAGAIN: the backlog is empty. Anything else (the socket was shut down, ENOBUFS):
                // nothing more to take now; poll says when there is.
                return
            }
        }
    }

    /// Out of descriptors: give up the spare to take one waiting connection, refuse it (the
    /// admit callback answers and closes), and take the spare back. Without a spare, wait a
    /// little rather than spin on a socket that stays readable.
    private func refuseWithSpareDescriptor() {
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
