import Synchronization

/// A point-in-time copy of the server's counters, for metrics.
public struct ServerStats: Sendable, Equatable {
    /// Async handlers running now (each holds an admission permit).
    public var requestsInFlight: Int
    /// Streamed responses open now.
    public var openStreams: Int
    /// Requests answered 503 because `maxInFlight` was reached, since start.
    public var admissionRejections: Int
    /// Streams refused because `maxStreams` was reached, since start: answered 503 at admission,
    /// or refused by a handler that asked first (`Server.streamRefusal`).
    public var streamRejections: Int
    /// Async handlers that missed their deadline (answered 504), since start.
    public var requestTimeouts: Int
    /// Requests completed (any status, any path), since start.
    public var requestsCompleted: Int
    /// TCP connections open now.
    public var openConnections: Int = 0
    /// Connections answered 503 and closed at accept (the connection limit was reached, or the
    /// process was out of descriptors), since start.
    public var connectionRejections: Int = 0
}

/// The monotonic counters behind `ServerStats`. The gauges (in flight, open streams) live in
/// `Admission`, which owns them.
final class ServerCounters: Sendable {
    let admissionRejections = Atomic<Int>(0)
    let streamRejections = Atomic<Int>(0)
    let requestTimeouts = Atomic<Int>(0)
    let requestsCompleted = Atomic<Int>(0)
    /// Connections libmicrohttpd has started and not yet closed.
    let openConnections = Atomic<Int>(0)
    /// Connections handed to libmicrohttpd that it has not started yet (it takes them from a
    /// queue on a worker thread): counted so a burst cannot overshoot the limit.
    let pendingConnections = Atomic<Int>(0)
    let connectionRejections = Atomic<Int>(0)
}
