import Foundation
import ArgumentParser
import LabServer
import MicroHTTP
import Patterns
import Runs

struct NetworkOptions: ParsableArguments {
    @Option(name: .long, help: "Address to bind. Anything but loopback is reachable from other machines.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port to bind; 0 picks a free one (the chosen port is logged).")
    var port = 8080
    @Option(name: .long, help: "Server threads (libmicrohttpd's thread pool); default: one per core.")
    var threads: Int?
    @Option(name: .long, help: ArgumentHelp(
        "How Linux schedules the server threads: 'inherit' or 'batch'.",
        discussion: "inherit: the policy the process was started with. batch (SCHED_BATCH): a server thread woken by a request does not preempt the thread running on its core; it runs at its turn, with its fair share unchanged, and serves every request ready by then. It changes anything only when every core is busy: then it trades a longer median for a shorter tail (on 2 cores with the client beside the server: p50 0.25 ms instead of 0.12, p99 4 ms instead of 6). Threads the server threads start inherit it too (the timer thread, the Swift runtime's pool threads), so under full load the runs' wake-ups wait their turn as well. A process started under another policy than the default (chrt) keeps it either way."))
    var workerScheduling: WorkerScheduling = .inherit
    @Option(name: .long, help: "Requests handled at once; more get 503 at once.")
    var maxInFlight = 256
    @Option(name: .long, help: "Seconds a request may take before it is answered 504 and cancelled.")
    var requestTimeout = 30
    @Option(name: .long, help: "Largest request body in bytes; larger gets 413.")
    var maxBodyBytes = 64 * 1024
    @Option(name: .long, help: ArgumentHelp(
        "Memory per connection, in bytes, for the request line, the headers and the I/O buffers.",
        discussion: "libmicrohttpd's pool, resident for every open connection, event streams included (most of a stream's ~16 KB). Headers that do not fit get 431, a URL 414: the default 16384 holds one header of about 16 KB, or about 8 KB of many small ones (4 KB of cookies and 40 more fields). Raise it for larger headers; lower it to hold more streams in less memory."))
    var connectionMemoryBytes = ServerConfiguration.defaultConnectionMemoryLimit
    @Option(name: .long, help: ArgumentHelp(
        "Open connections at most (more are closed at once).",
        discussion: "Default: what the open-file limit leaves room for (serve raises its soft limit to the hard one and keeps 256 descriptors for itself), at most 65,536. A larger value is lowered to that, with a warning."))
    var connectionLimit: Int?
    @Option(name: .long, help: "Open connections per client address at most (0: no limit).")
    var perIpConnectionLimit = 0
    @Option(name: .long, help: "Seconds an idle or slow connection is kept.")
    var connectionTimeout = 30
    @Option(name: .long, help: ArgumentHelp(
        "Event streams open at once; more get 503.", discussion: "Default: nine tenths of the connection limit."))
    var maxSubscribers: Int?
    @Option(name: .long, help: "Seconds between SSE heartbeat comments.")
    var heartbeatSeconds = 15
    @Option(name: .long, help: "Seconds graceful shutdown waits for in-flight work before cancelling it.")
    var shutdownGrace = 10
    @Option(name: .long, help: "Require 'Authorization: Bearer TOKEN' for POST and DELETE (or set LAB_API_TOKEN).")
    var apiToken: String?
    @Option(name: .long, help: ArgumentHelp(
        "Origins whose pages may use the API: '*', 'none', or a comma-separated list.",
        discussion: "A list grants only the origins it names (scheme://host[:port]); 'none' sends no CORS header at all."))
    var corsOrigins = "*"

    func apply(to server: inout ServerConfiguration) {
        server.host = host
        server.port = UInt16(port)
        if let threads { server.threadPoolSize = threads }
        server.workerScheduling = workerScheduling
        server.maxInFlight = maxInFlight
        server.requestTimeout = .seconds(requestTimeout)
        server.maxBodyBytes = maxBodyBytes
        server.connectionMemoryLimit = connectionMemoryBytes
        server.connectionLimit = connectionLimit
        server.perIPConnectionLimit = perIpConnectionLimit
        server.connectionTimeout = connectionTimeout
        server.maxStreams = maxSubscribers
        server.shutdownGrace = .seconds(shutdownGrace)
    }

    mutating func validate() throws {
        try bound("--port", port, 0...65_535)
        try bound("--max-in-flight", maxInFlight, 1...100_000)
        try bound("--request-timeout", requestTimeout, 1...3_600)
        try bound("--max-body-bytes", maxBodyBytes, 1_024...(64 * 1024 * 1024))
        try bound("--connection-memory-bytes", connectionMemoryBytes, 4_096...(1024 * 1024))
        if let connectionLimit { try bound("--connection-limit", connectionLimit, 1...1_000_000) }
        try bound("--per-ip-connection-limit", perIpConnectionLimit, 0...1_000_000)
        try bound("--connection-timeout", connectionTimeout, 1...3_600)
        if let maxSubscribers { try bound("--max-subscribers", maxSubscribers, 1...1_000_000) }
        try bound("--heartbeat-seconds", heartbeatSeconds, 1...3_600)
        try bound("--shutdown-grace", shutdownGrace, 0...600)
        if let threads { try bound("--threads", threads, 1...256) }
        if let apiToken, apiToken.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--api-token must not be empty (leave it out for no token)")
        }
        do {
            _ = try CORSPolicy(parsing: corsOrigins)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Runs active at once; more get 429 at once.")
    var maxConcurrentRuns = 64
    @Option(name: .long, help: "Most tasks or items in a run (gather has its own bound).")
    var maxCount = 100_000
    @Option(name: .long, help: "Most tasks in a gather run.")
    var maxGatherCount = 1_000_000
    @Option(name: .long, help: "Longest delay parameter, in milliseconds.")
    var maxDelayMs = 60_000
    @Option(name: .long, help: "Longest planned duration of a run on the real clock, and the longest real time a virtual run may take, in seconds.")
    var maxRunSeconds = 300
    @Option(name: .long, help: "Longest simulated time of a run on the virtual clock (its planned duration, and how far its clock may go), in seconds.")
    var maxVirtualSeconds = 86_400
    @Option(name: .long, help: "Longest ?wait=, in seconds.")
    var maxWait = 60
    @Option(name: .long, help: "Task spans kept per run; aggregates count past it.")
    var spanCap = 10_000
    @Option(name: .long, help: "Finished runs kept in memory (all of them are in the store).")
    var keepInMemory = 1_000

    func runsConfiguration() -> RunsConfiguration {
        let limits = PatternLimits(
            maxCount: maxCount, maxGatherCount: maxGatherCount, maxDelayMs: maxDelayMs,
            maxPlannedDuration: .seconds(maxRunSeconds), maxVirtualDuration: .seconds(maxVirtualSeconds), spanCap: spanCap)
        return RunsConfiguration(
            limits: limits, maxConcurrentRuns: maxConcurrentRuns, keepFinishedInMemory: keepInMemory,
            eventCap: spanCap * 4)
    }

    mutating func validate() throws {
        try bound("--max-concurrent-runs", maxConcurrentRuns, 1...100_000)
        try bound("--max-count", maxCount, 1...10_000_000)
        try bound("--max-gather-count", maxGatherCount, 1...10_000_000)
        try bound("--max-delay-ms", maxDelayMs, 0...3_600_000)
        try bound("--max-run-seconds", maxRunSeconds, 1...86_400)
        try bound("--max-virtual-seconds", maxVirtualSeconds, 1...31_536_000)
        try bound("--max-wait", maxWait, 0...3_600)
        try bound("--span-cap", spanCap, 0...1_000_000)
        try bound("--keep-in-memory", keepInMemory, 0...1_000_000)
    }
}

struct StorageOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Run history: an SQLite file (its folder is created), :memory: for none, or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME to share it with other instances.",
        discussion: "Default: $LAB_DATABASE_URL when set, else :memory:."))
    var db: String?
    @Option(name: .long, help: ArgumentHelp(
        "With PostgreSQL: the name this instance restarts under; at start it marks interrupted the runs its earlier processes left in flight.",
        discussion: "Default: HOSTNAME:PORT (with --port 0, none: this process only)."))
    var instanceName: String?
    @Option(name: .long, help: "Runs kept in the store; the oldest are pruned.")
    var keepRuns = 10_000
    @Option(name: .long, help: "Also prune runs older than this many days.")
    var keepDays: Int?
    @Option(name: .long, help: ArgumentHelp(
        "With PostgreSQL: seconds this instance is presumed alive after its last heartbeat (renewed every third of it).",
        discussion: "Past it, by the database's clock, another instance marks this one's unfinished runs interrupted."))
    var leaseSeconds = 10
    @Option(name: .long, help: ArgumentHelp(
        "With PostgreSQL: runs active at once across every instance sharing the database; more get 429 at once.",
        discussion: "Default: no cluster bound (each instance's --max-concurrent-runs still applies). Give every instance the same value."))
    var clusterMaxConcurrentRuns: Int?

    /// `--db`, else `LAB_DATABASE_URL`, else no persistence.
    var location: String {
        db ?? ProcessInfo.processInfo.environment["LAB_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? ":memory:"
    }

    mutating func validate() throws {
        try bound("--keep-runs", keepRuns, 1...100_000_000)
        if let keepDays { try bound("--keep-days", keepDays, 1...36_500) }
        try bound("--lease-seconds", leaseSeconds, 1...3_600)
        if let clusterMaxConcurrentRuns {
            try bound("--cluster-max-concurrent-runs", clusterMaxConcurrentRuns, 1...100_000)
            guard StoreOpener.isPostgres(self) else {
                throw ValidationError("--cluster-max-concurrent-runs needs --db postgresql://... (the instances share the bound through it)")
            }
        }
        if let instanceName, instanceName.isEmpty || instanceName.count > 200 || instanceName.contains(where: \.isNewline) {
            throw ValidationError("--instance-name must be 1 to 200 characters on one line")
        }
    }
}

func bound(_ flag: String, _ value: Int, _ range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw ValidationError("\(flag) must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
    }
}

extension WorkerScheduling: ExpressibleByArgument {}
