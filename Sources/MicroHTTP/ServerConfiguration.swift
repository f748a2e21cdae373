import Logging

/// Everything a `Server` is told up front: where to listen and every limit it enforces.
///
/// The connection-level limits are libmicrohttpd's own (enforced in C before any Swift runs);
/// the request-level ones (`maxInFlight`, `requestTimeout`, `maxBodyBytes`, `maxStreams`) are
/// MicroHTTP's admission control.
public struct ServerConfiguration: Sendable {
    /// IPv4 address to bind (numeric).
    public var host: String = "127.0.0.1"
    /// TCP port; 0 asks the kernel for a free one (read it back from `Server.port`).
    public var port: UInt16 = 0
    /// libmicrohttpd worker threads, each with its own epoll loop.
    public var threadPoolSize: Int = ServerConfiguration.processorCount
    /// Async handlers allowed to run at once; past it the answer is an immediate 503.
    public var maxInFlight: Int = 256
    /// Deadline for an async handler to produce its response; past it 504 and cancellation.
    public var requestTimeout: Duration = .seconds(30)
    /// Largest request body accepted; larger is 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// Open streamed responses allowed at once; past it 503. nil: nine tenths of the connection
    /// limit (see `ConnectionBudget`).
    public var maxStreams: Int?
    /// Bytes a stream may buffer before `StreamWriter.write` waits for the client.
    public var streamHighWaterMark: Int = 256 * 1024
    /// Concurrent TCP connections (libmicrohttpd closes more at once). nil: as many as the
    /// open-file limit leaves room for; a value above that is lowered to it (see
    /// `ConnectionBudget`, `DescriptorLimit`).
    public var connectionLimit: Int?
    /// How the kernel schedules libmicrohttpd's worker threads: `.inherit` (the default) leaves
    /// them the process's policy; `.batch` keeps a worker woken by a request from preempting the
    /// thread running on its core, so the worker serves whatever is ready at its turn. See
    /// `WorkerScheduling` for what it changes, and why it is not the default.
    public var workerScheduling: WorkerScheduling = .inherit
    /// Raise the process's soft open-file limit to its hard limit when the server starts, so
    /// that the automatic connection limit is as high as the machine allows.
    public var raisesDescriptorLimit = true
    /// Concurrent connections from one IP address; 0 means no limit.
    public var perIPConnectionLimit: Int = 0
    /// Seconds an idle or slow connection may sit without traffic before it is closed; 0 never.
    /// (A suspended connection does not time out: handlers have `requestTimeout` instead.)
    public var connectionTimeout: Int = 60
    /// Pending connections the kernel queues before `accept`, over all listen sockets: the
    /// kernel caps one socket's at `net.core.somaxconn`, so the listener opens as many sockets
    /// on the port as this needs (at most 8; past that, less is kept, and the log says so at start).
    /// A burst of connections past the backlog loses SYNs, and their clients wait a second or
    /// more to retry: keep it at least the burst a server must take while its threads are busy.
    public var listenBacklog: Int = 16_384
    /// SO_SNDBUF of every accepted connection (set on the listen socket, which accepted sockets
    /// inherit). nil: the kernel's, which grows with the connection (up to `net.ipv4.tcp_wmem`'s
    /// maximum, 4 MiB by default), so a stalled client can absorb megabytes before its stream's
    /// own buffer fills. A fixed value turns that growth off: tests use it to make a stall show
    /// at once whatever the machine's settings.
    public var socketSendBufferBytes: Int?
    /// Memory pool per connection for headers and I/O buffers: the throughput lever, since MHD
    /// clears it after every keep-alive request, and most of what an open connection costs
    /// (all of it resident once MHD has cleared it for a next request). Requests whose headers
    /// or URL do not fit get 431 / 414 from libmicrohttpd. See `defaultConnectionMemoryLimit`.
    public var connectionMemoryLimit: Int = ServerConfiguration.defaultConnectionMemoryLimit

    /// 16 KiB. What fits, measured: one header of about 16 KB, or about 8.5 KB of many small
    /// ones (121 fields of 60 bytes), or a browser's 4 KB of cookies with 40 more fields; 12 KiB
    /// refused that cookie with 20 fields (5.1 KB in all), too little for a default. Memory, with
    /// 3,000 event streams on one run, at the run's end: 16.4 KB of peak RSS per stream with
    /// 16 KiB, 16.2 with 12 KiB, 24.3 with 32 KiB (`--connection-memory-bytes` chooses). That is
    /// with event streams closing their connections; kept alive, libmicrohttpd clears the pool
    /// for the next request, which makes all of it resident: 20.5, 16.8 and 36.4 KB.
    public static let defaultConnectionMemoryLimit = 16 * 1024
    /// How long a stream's producer may take, once cancelled for shutdown, to write its final
    /// frame and return before its stream is closed under it.
    public var shutdownGrace: Duration = .seconds(2)
    /// Where the access log (one line per request, level `info`) and libmicrohttpd's own error
    /// messages (level `warning`) go.
    public var logger: Logger = Logger(label: "microhttp")
    /// Where access-log lines go instead of `logger` (which still decides whether there is an
    /// access log: its level must be `info` or lower). nil: through `logger`, fields as metadata.
    public var accessLogWriter: (any AccessLogWriter)?
    /// Renders the body of every answer the server gives by itself (`Refusal`: 503 at
    /// admission, at accept and while draining, 413, 504), so an application's errors all look
    /// alike. Default: one line of plain text.
    public var refusalBody: RefusalRenderer = RefusalBody.plainText

    /// How each async request's deadline is kept (`DeadlineTimers`).
    public var deadlineTimers: any DeadlineTimers = TaskDeadlineTimers()

    public init() {}

    /// The number of online processors, at least 1.
    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
