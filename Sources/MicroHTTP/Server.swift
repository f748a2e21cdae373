import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server: libmicrohttpd's epoll threads for the sockets, a Swift `HTTPHandler` for
/// the answers, and MicroHTTP's admission control in between.
///
/// ```swift
/// let server = Server(configuration: configuration, handler: routes)
/// try server.start()
/// print(server.port)                      // the bound port, also when 0 was asked
/// await server.shutdown(deadline: .seconds(10))
/// ```
/// Call `shutdown` before letting go of a started server: libmicrohttpd's threads keep running
/// until it is called.
public final class Server: Sendable {
    private enum Lifecycle {
        case idle
        case running(Daemon)
        case stopping(waiters: [CheckedContinuation<Void, Never>])
        case stopped
    }

    private let core: ServerCore
    private let lifecycle = Mutex(Lifecycle.idle)
    private let boundPort = Atomic<UInt16>(0)

    /// Creates the server; with `raisesDescriptorLimit` (the default) it first raises the
    /// process's soft open-file limit to the hard one, then sizes its connection and stream
    /// limits to fit inside it (`ConnectionBudget`).
    public init(configuration: ServerConfiguration = ServerConfiguration(), handler: some HTTPHandler) {
        if configuration.raisesDescriptorLimit { DescriptorLimit.raiseSoftToHard() }
        core = ServerCore(configuration: configuration, budget: ConnectionBudget(configuration), handler: handler)
    }

    public var configuration: ServerConfiguration { core.configuration }

    /// The connection and stream limits in force, and the open-file limit they were sized from.
    public var budget: ConnectionBudget { core.budget }

    /// Binds the listen sockets and starts serving. Throws when it cannot bind, or when called
    /// twice.
    public func start() throws(ServerError) {
        // A client that leaves mid-write must cost an EPIPE, not the process.
        signal(SIGPIPE, SIG_IGN)
        try lifecycle.withLock { (lifecycle) throws(ServerError) in
            guard case .idle = lifecycle else { throw .alreadyStarted }
            for warning in core.budget.warnings { core.configuration.logger.warning("\(warning)") }
            let daemon = try Daemon.start(core)
            let listener = daemon.listener
            let total = listener.sockets.count * listener.backlogPerSocket
            core.configuration.logger.info(
                "accepting on \(listener.sockets.count) listen socket(s), backlog \(listener.backlogPerSocket) each, \(total) in all")
            if total < core.configuration.listenBacklog {
                core.configuration.logger.notice(
                    "listen backlog \(core.configuration.listenBacklog) asked, \(total) allowed (net.core.somaxconn caps each socket, at most \(Listener.maxSockets) sockets): a larger burst of connections at once loses SYNs")
            }
            boundPort.store(daemon.port, ordering: .releasing)
            lifecycle = .running(daemon)
        }
    }

    /// The port the server listens on: the kernel's choice when the configuration said 0.
    public var port: UInt16 {
        let bound = boundPort.load(ordering: .acquiring)
        return bound != 0 ? bound : core.configuration.port
    }

    /// True from the start of `shutdown` on: new work is refused with 503.
    public var isDraining: Bool { core.admission.isDraining }

    /// `.tooManyStreams` when a stream opened now would be refused at the stream limit (and
    /// counted as refused), nil while there is room. A handler asks before it commits to a
    /// stream, so it can refuse with its own error; the limit itself, one counter, is
    /// enforced when the stream is admitted.
    public func streamRefusal() -> Refusal? { core.streamRefusal() }

    /// The server's counters, for metrics.
    public var stats: ServerStats {
        let (inFlight, streams) = core.admission.counts
        let counters = core.counters
        return ServerStats(
            requestsInFlight: inFlight,
            openStreams: streams,
            admissionRejections: counters.admissionRejections.load(ordering: .relaxed),
            streamRejections: counters.streamRejections.load(ordering: .relaxed),
            requestTimeouts: counters.requestTimeouts.load(ordering: .relaxed),
            requestsCompleted: counters.requestsCompleted.load(ordering: .relaxed),
            openConnections: counters.openConnections.load(ordering: .relaxed),
            connectionRejections: counters.connectionRejections.load(ordering: .relaxed)
        )
    }

    /// Drains and stops the server within `deadline` (see `ShutdownSequence` for the order and
    /// its invariant). Safe to call more than once and from several tasks: later calls wait for
    /// the first to finish. On a server never started it does nothing.
    public func shutdown(deadline: Duration = .seconds(10)) async {
        enum Step { case nothing, wait, drain(Daemon) }
        let step: Step = lifecycle.withLock { lifecycle in
            switch lifecycle {
            case .idle, .stopped:
                lifecycle = .stopped
                return .nothing
            case .stopping:
                return .wait
            case .running(let daemon):
                lifecycle = .stopping(waiters: [])
                return .drain(daemon)
            }
        }
        switch step {
        case .nothing:
            return
        case .wait:
            await waitForStop()
        case .drain(let daemon):
            await ShutdownSequence(core: core, daemon: daemon, deadline: deadline).run()
            let waiters = lifecycle.withLock { lifecycle in
                defer { lifecycle = .stopped }
                guard case .stopping(let waiters) = lifecycle else { return [CheckedContinuation<Void, Never>]() }
                return waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    private func waitForStop() async {
        await withCheckedContinuation { continuation in
            let stopped = lifecycle.withLock { lifecycle in
                guard case .stopping(var waiters) = lifecycle else { return true }
                waiters.append(continuation)
                lifecycle = .stopping(waiters: waiters)
                return false
            }
            if stopped { continuation.resume() }
        }
    }
}

/// Why a server could not start.
public enum ServerError: Error, Sendable, Equatable {
    /// `host` is not a numeric IPv4 address.
    case invalidHost(String)
    /// libmicrohttpd could not start (the port is taken, or a limit is invalid); its log says why.
    case startFailed(host: String, port: UInt16)
    case alreadyStarted
}
