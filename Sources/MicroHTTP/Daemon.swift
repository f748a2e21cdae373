import CMicroHTTPD

#if canImport(Glibc)
import Glibc
#endif

/// A running libmicrohttpd daemon and what must outlive it: the retained `ServerCore` its
/// callbacks reach through `cls`, and the log sink. Both are released only after
/// `MHD_stop_daemon` returns, when no callback can run any more.
struct Daemon: @unchecked Sendable {
    let pointer: OpaquePointer
    let port: UInt16
    private let core: Unmanaged<ServerCore>
    private let logSink: UnsafeMutablePointer<cmhd_log_sink>

    /// Epoll with internal threads (the only mode that can suspend thousands of connections),
    /// suspend/resume, error log, and the inter-thread channel quiesce and resume need.
    private static var flags: UInt32 {
        MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
            | MHD_USE_ERROR_LOG.rawValue | MHD_USE_ITC.rawValue
    }

    /// Binds and starts the daemon.
    static func start(_ core: ServerCore) throws(ServerError) -> Daemon {
        let configuration = core.configuration
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.host, &address.sin_addr) == 1 else {
            throw .invalidHost(configuration.host)
        }
        let retained = Unmanaged.passRetained(core)
        let logSink = UnsafeMutablePointer<cmhd_log_sink>.allocate(capacity: 1)
        logSink.initialize(to: cmhd_log_sink(emit: { MHDCallbacks.log($0, $1) }, context: retained.toOpaque()))
        let pointer = withUnsafeMutablePointer(to: &address) { address in
            let options = options(configuration, cls: retained.toOpaque(), logSink: logSink, address: address)
            return options.withUnsafeBufferPointer { options in
                cmhd_start_daemon(flags, configuration.port, { cls, connection, _, method, _, upload, size, context in
                    MHDCallbacks.access(cls, connection, method, upload, size, context)
                }, retained.toOpaque(), options.baseAddress)
            }
        }
        guard let pointer else {
            retained.release()
            logSink.deallocate()
            throw .startFailed(host: configuration.host, port: configuration.port)
        }
        return Daemon(pointer: pointer, port: cmhd_bound_port(pointer), core: retained, logSink: logSink)
    }

    private static func options(
        _ configuration: ServerConfiguration, cls: UnsafeMutableRawPointer,
        logSink: UnsafeMutablePointer<cmhd_log_sink>, address: UnsafeMutablePointer<sockaddr_in>
    ) -> [MHD_OptionItem] {
        // One thread is libmicrohttpd's plain internal thread: it warns about a pool of 1.
        let pool = configuration.threadPoolSize > 1
            ? [cmhd_option_int(.THREAD_POOL_SIZE, configuration.threadPoolSize)] : []
        return [
            // First, so that even start-up messages go through it.
            cmhd_option_logger(logSink),
            cmhd_option_pointer(.SOCK_ADDR, UnsafeMutableRawPointer(address)),
        ] + pool + [
            cmhd_option_int(.CONNECTION_MEMORY_LIMIT, configuration.connectionMemoryLimit),
            cmhd_option_int(.CONNECTION_LIMIT, configuration.connectionLimit),
            cmhd_option_int(.PER_IP_CONNECTION_LIMIT, configuration.perIPConnectionLimit),
            cmhd_option_int(.CONNECTION_TIMEOUT, configuration.connectionTimeout),
            cmhd_option_int(.LISTEN_BACKLOG_SIZE, configuration.listenBacklog),
            cmhd_option_notify_connection({ MHDCallbacks.connection($0, $1, $2, $3) }, cls),
            cmhd_option_uri_log({ MHDCallbacks.uriLog($0, $1, $2) }, cls),
            cmhd_option_notify_completed({ cls, connection, context, _ in
                MHDCallbacks.completed(cls, connection, context)
            }, cls),
            cmhd_option_end(),
        ]
    }

    /// Stops accepting connections; returns the listen socket, to close after `stop()`.
    /// libmicrohttpd only stops polling it, so the kernel would still complete handshakes into
    /// the backlog and leave those clients hanging until the stop; shutting the socket down
    /// (it stays open until `stop()`) makes new connections fail at once instead.
    func quiesce() -> Int32 {
        let listenSocket = MHD_quiesce_daemon(pointer)
        if listenSocket >= 0 { _ = shutdown(listenSocket, Int32(SHUT_RDWR)) }
        return listenSocket
    }

    /// Stops the daemon and frees what its callbacks used. Precondition: no connection is
    /// suspended (see `SuspensionLedger`).
    func stop(listenSocket: Int32) {
        MHD_stop_daemon(pointer)
        if listenSocket >= 0 { close(listenSocket) }
        core.release()
        logSink.deinitialize(count: 1)
        logSink.deallocate()
    }
}
