#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`), and how many connections it leaves room for.
///
/// Why this matters more than it seems: running out of descriptors must cost a connection, never
/// the process, yet in a Swift process the runtime itself needs descriptors at moments nobody
/// chooses. libdispatch's worker-pool monitor opens `/proc/self/task/TID/stat` about once a second
/// and traps (SIGILL, "workq: registered worker exited prematurely") when that `open` fails. A
/// flood of connections that took the last descriptor therefore killed the server.
///
/// Invariant the server keeps: libmicrohttpd never holds more than `connectionCapacity`
/// connections, which leaves `reserve` descriptors (at least half the limit on a tiny one) to
/// everything else (the store's files, the runtime, logs, libmicrohttpd's own epoll and
/// inter-thread channels, the one descriptor an `accept` takes before a connection over the limit
/// is closed). A connection over the limit is accepted and closed at once by libmicrohttpd.
public struct DescriptorLimit: Sendable, Equatable, CustomStringConvertible {
    /// Descriptors kept for everything but connections.
    public static let reserve = 256

    /// The limit enforced now.
    public var soft: Int
    /// The ceiling an unprivileged process may raise `soft` to.
    public var hard: Int

    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    /// The process's limits now (`RLIM_INFINITY` reads as `Int.max`).
    public static func current() -> DescriptorLimit {
        var limit = rlimit()
        guard getrlimit(descriptorResource, &limit) == 0 else { return DescriptorLimit(soft: 1_024, hard: 1_024) }
        return DescriptorLimit(soft: clamp(limit.rlim_cur), hard: clamp(limit.rlim_max))
    }

    /// The limits as this process first read them, before any raise: what `serve` reports.
    public static let atFirstRead: DescriptorLimit = current()

    /// Raises the soft limit to the hard one (best effort: some systems refuse values above
    /// `nr_open`, then the limit stays). Returns the limits before and after.
    @discardableResult
    public static func raiseSoftToHard() -> (before: DescriptorLimit, after: DescriptorLimit) {
        _ = atFirstRead
        let before = current()
        guard before.soft < before.hard else { return (before, before) }
        var limit = rlimit()
        guard getrlimit(descriptorResource, &limit) == 0 else { return (before, before) }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(descriptorResource, &limit)
        return (before, current())
    }

    /// Connections that fit beside the reserve.
    public var connectionCapacity: Int {
        soft > 2 * Self.reserve ? soft - Self.reserve : max(1, soft / 2)
    }

    public var description: String {
        "soft \(Self.text(soft)), hard \(Self.text(hard))"
    }

    private static func text(_ value: Int) -> String { value == .max ? "unlimited" : String(value) }

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? .max : Int(value)
    }

    #if canImport(Glibc)
    private static var descriptorResource: __rlimit_resource_t { __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)) }
    #else
    private static var descriptorResource: Int32 { RLIMIT_NOFILE }
    #endif
}
