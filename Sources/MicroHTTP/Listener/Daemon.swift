import CMicroHTTPD

#if canImport(Glibc)
import Glibc
#endif

/// A running libmicrohttpd daemon, the listener that feeds it connections, and what must
/// outlive the daemon: the retained `ServerCore` its callbacks reach through `cls`, and the log
/// sink. Both are released only after `MHD_stop_daemon` returns, when no callback can run any more.
struct Daemon: @unchecked Sendable {
    let pointer: OpaquePointer
    let listener: Listener
    private let core: Unmanaged<ServerCore>
    private let logSink: UnsafeMutablePointer<cmhd_log_sink>

    var port: UInt16 { listener.port }

    /// Epoll with internal threads (the only mode that can suspend thousands of connections),
    /// suspend/resume, error log, the inter-thread channel that resume and `MHD_add_connection`
    /// need, and no listen socket of its own (`Listener` accepts).
    private static var flags: UInt32 {
        MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
            | MHD_USE_ERROR_LOG.rawValue | MHD_USE_ITC.rawValue | MHD_USE_NO_LISTEN_SOCKET.rawValue
    }

    /// Binds, starts the daemon, then starts accepting.
    static func start(_ core: ServerCore) throws(ServerError) -> Daemon {
        let configuration = core.configuration
        let listener = try Listener(host: configuration.host, port: configuration.port, backlog: configuration.listenBacklog,
            sendBufferBytes: configuration.socketSendBufferBytes)
        let retained = Unmanaged.passRetained(core)
        let logSink = UnsafeMutablePointer<cmhd_log_sink>.allocate(capacity: 1)
        logSink.initialize(to: cmhd_log_sink(emit: { MHDCallbacks.log($0, $1) }, context: retained.toOpaque()))
        let options = options(configuration, budget: core.budget, cls: retained.toOpaque(), logSink: logSink)
        // The workers are created here, and inherit the policy (`WorkerScheduling`).
        let (pointer, scheduled) = configuration.workerScheduling.applied {
            options.withUnsafeBufferPointer { options in
                cmhd_start_daemon(flags, 0, { cls, connection, _, method, _, upload, size, context in
                    MHDCallbacks.access(cls, connection, method, upload, size, context)
                }, retained.toOpaque(), options.baseAddress)
            }
        }
        if configuration.workerScheduling == .batch && !scheduled {
            configuration.logger.notice("worker threads keep the process's scheduling policy: SCHED_BATCH was not applied")
        }
        guard let pointer else {
            retained.release()
            logSink.deallocate()
            listener.close()
            throw .startFailed(host: configuration.host, port: configuration.port)
        }
        let daemon = Daemon(pointer: pointer, listener: listener, core: retained, logSink: logSink)
        do {
            try listener.start(
                admit: { client, address, length in core.admitConnection(client, address, length, daemon: pointer) },
                refuse: { client in core.refuseConnection(client) },
                tick: { core.wakeWorkers(daemon: pointer) })
        } catch {
            daemon.stop()
            throw error
        }
        return daemon
    }

    private static func options(
        _ configuration: ServerConfiguration, budget: ConnectionBudget, cls: UnsafeMutableRawPointer,
        logSink: UnsafeMutablePointer<cmhd_log_sink>
    ) -> [MHD_OptionItem] {
        // One thread is libmicrohttpd's plain internal thread: it warns about a pool of 1.
        let pool = configuration.threadPoolSize > 1
            ? [cmhd_option_int(.THREAD_POOL_SIZE, configuration.threadPoolSize)] : []
        return [
            // First, so that even start-up messages go through it.
            cmhd_option_logger(logSink),
        ] + pool + [
            cmhd_option_int(.CONNECTION_MEMORY_LIMIT, configuration.connectionMemoryLimit),
            // The listener refuses (503) past the budget. libmicrohttpd's own limit must never be
            // reached: its worker threads take externally added connections from a queue, and a
            // worker at its limit left connections queued to it unanswered (seen with 0.9.75).
            // Each worker gets limit / threads, so four times the budget keeps every worker clear
            // of it however the connections are spread.
            cmhd_option_int(.CONNECTION_LIMIT, budget.connectionLimit * 4),
            cmhd_option_int(.PER_IP_CONNECTION_LIMIT, configuration.perIPConnectionLimit),
            cmhd_option_int(.CONNECTION_TIMEOUT, configuration.connectionTimeout),
            cmhd_option_notify_connection({ MHDCallbacks.connection($0, $1, $2, $3) }, cls),
            cmhd_option_uri_log({ MHDCallbacks.uriLog($0, $1, $2) }, cls),
            cmhd_option_notify_completed({ cls, connection, context, _ in
                MHDCallbacks.completed(cls, connection, context)
            }, cls),
            cmhd_option_end(),
        ]
    }

    /// Stops accepting connections: the listen sockets are shut down (new connections fail at
    /// once instead of waiting in the backlog) and the accept thread has ended on return.
    func quiesce() {
        listener.stop()
    }

    /// Stops the daemon and frees what its callbacks used. Precondition: no connection is
    /// suspended (see `SuspensionLedger`).
    func stop() {
        listener.stop()
        MHD_stop_daemon(pointer)
        listener.close()
        core.release()
        logSink.deinitialize(count: 1)
        logSink.deallocate()
    }
}
