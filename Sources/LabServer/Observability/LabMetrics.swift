import Prometheus
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The server's metrics in a Prometheus registry of its own (no global bootstrap, so several
/// servers can live in one test process), every family with its help text (`MetricFamily`).
///
/// Request counters are labelled by route template (`/runs/{id}`), never by raw path, so the
/// number of series stays bounded whatever clients send. Totals that other layers keep (runs
/// started and ended, refusals) are read at scrape time and carried into counters by their
/// growth since the last scrape, under one lock, so a counter never goes down.
public final class LabMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// Each route's series (`RouteSeries`), by route template.
    private let routes = Mutex<[String: RouteSeries]>([:])
    /// Each scrape-time counter with the total it was last advanced to.
    private let totals = Mutex<[SeriesKey: (counter: Counter, total: Int)]>([:])
    private let gauges = Mutex<[SeriesKey: Gauge]>([:])

    /// Request durations up to five minutes: event streams are requests that last as long as
    /// their run.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        .seconds(60), .seconds(300),
    ]

    struct SeriesKey: Hashable {
        let family: MetricFamily
        let labels: [String]
    }

    /// One route's request metrics: its requests by method and status, and its duration
    /// histogram, both rendered by `LabMetrics.render` (not kept in the registry).
    ///
    /// Kept per thread (in one of `shardCount` shards, by `ThreadSlot`) and summed when scraped:
    /// the MHD workers record every request here, and a counter and a histogram lock shared by
    /// the workers moved their cache lines between the cores on every request, about 2.7% of
    /// GET /healthz's throughput. Threads past `shardCount` share shards, still correctly: each
    /// shard has its own lock, taken by one thread almost always.
    final class RouteSeries: Sendable {
        let route: String
        private let shards: [Shard] = (0..<RouteSeries.shardCount).map { _ in Shard() }
        static let shardCount = 16

        private struct Counts {
            var requests: [(method: String, status: Int, count: Int)] = []
            /// Per bucket (`durationBuckets`, then +Inf), not cumulative.
            var buckets = [Int](repeating: 0, count: LabMetrics.durationBuckets.count + 1)
            var sum: Duration = .zero

            /// Adds `count` requests answered `status` to `method`: one short scan of the few
            /// pairs the route has answered.
            mutating func add(method: String, status: Int, count: Int) {
                if let index = requests.firstIndex(where: { $0.status == status && $0.method == method }) {
                    requests[index].count += count
                } else {
                    requests.append((method, status, count))
                }
            }
        }

        /// The padding keeps two shards' locks off one cache line, wherever the allocator puts
        /// them.
        private final class Shard: Sendable {
            let counts = Mutex(Counts())
            private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
        }

        init(route: String) {
            self.route = route
        }

        func record(method: String, status: Int, duration elapsed: Duration) {
            let bucket = LabMetrics.durationBuckets.firstIndex { elapsed <= $0 } ?? LabMetrics.durationBuckets.count
            shards[ThreadSlot.current % Self.shardCount].counts.withLock { counts in
                counts.add(method: method, status: status, count: 1)
                counts.buckets[bucket] += 1
                counts.sum += elapsed
            }
        }

        /// Every shard's counts summed: requests by (method, status) in the order first seen
        /// by shard, buckets not cumulative.
        fileprivate func total() -> (requests: [(method: String, status: Int, count: Int)], buckets: [Int], sum: Duration) {
            var total = Counts()
            for shard in shards {
                let counts = shard.counts.withLock { $0 }
                for request in counts.requests {
                    total.add(method: request.method, status: request.status, count: request.count)
                }
                for index in counts.buckets.indices { total.buckets[index] += counts.buckets[index] }
                total.sum += counts.sum
            }
            return (total.requests, total.buckets, total.sum)
        }
    }

    /// `patterns` are the catalog's names: their run counters are exported from the start.
    public init(patterns: [String] = []) {
        for reason in MetricFamily.rejectionReasons { advance(.admissionRejections, to: 0, labels: [("reason", reason)]) }
        advance(.httpRequestTimeouts, to: 0)
        for pattern in patterns { advance(.runsStarted, to: 0, labels: [("pattern", pattern)]) }
        for family in [
            MetricFamily.runsActive, .sseSubscribers, .httpRequestsInFlight, .httpOpenConnections, .clusterPermitsInUse,
            .clusterPermitsLimit,
        ] {
            set(family, 0)
        }
    }

    static func descriptor(_ family: MetricFamily) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: family.name, unitName: "", helpText: family.help)
    }

    /// The series of `route` (a template such as `/runs/{id}`), made at its first use: the
    /// application makes one for each of its routes (and `static`, `unmatched`) when it starts,
    /// so their histograms are exported from the start, at 0.
    func series(route: String) -> RouteSeries {
        routes.withLock { routes in
            if let series = routes[route] { return series }
            let series = RouteSeries(route: route)
            routes[route] = series
            return series
        }
    }

    /// Sets a gauge from a value read at scrape time.
    func set(_ family: MetricFamily, _ value: Int, labels: [(String, String)] = []) {
        precondition(family.kind == .gauge, "\(family.name) is a \(family.kind.rawValue)")
        let key = SeriesKey(family: family, labels: labels.flatMap { [$0.0, $0.1] })
        let gauge = gauges.withLock { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = registry.makeGauge(descriptor: Self.descriptor(family), labels: labels)
            gauges[key] = gauge
            return gauge
        }
        gauge.set(Int64(value))
    }

    /// Advances a counter to `total`, a count another layer keeps since start. A total below
    /// the last one (which a count since start never is) leaves the counter where it was.
    func advance(_ family: MetricFamily, to total: Int, labels: [(String, String)] = []) {
        precondition(family.kind == .counter, "\(family.name) is a \(family.kind.rawValue)")
        let key = SeriesKey(family: family, labels: labels.flatMap { [$0.0, $0.1] })
        totals.withLock { totals in
            let entry = totals[key] ?? (registry.makeCounter(descriptor: Self.descriptor(family), labels: labels), 0)
            if total > entry.total { entry.counter.increment(by: Int64(total - entry.total)) }
            totals[key] = (entry.counter, max(total, entry.total))
        }
    }

    /// The registry's families, then every route's requests and durations (`RouteSeries`),
    /// routes in template order.
    public func render() -> [UInt8] {
        var text = registry.emitToBuffer()
        let routes = routes.withLock { $0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.total()) }
        let requests = MetricFamily.httpRequests, duration = MetricFamily.httpRequestDuration
        var lines = "# HELP \(requests.name) \(requests.help)\n# TYPE \(requests.name) counter\n"
        for (route, total) in routes {
            for request in total.requests {
                lines += "\(requests.name){route=\"\(Self.escaped(route))\",method=\"\(Self.escaped(request.method))\",status=\"\(request.status)\"} \(request.count)\n"
            }
        }
        lines += "# HELP \(duration.name) \(duration.help)\n# TYPE \(duration.name) histogram\n"
        for (route, total) in routes {
            let label = "route=\"\(Self.escaped(route))\""
            var cumulative = 0
            for (index, count) in total.buckets.enumerated() {
                cumulative += count
                let bound = index < Self.durationBuckets.count ? "\(Self.seconds(Self.durationBuckets[index]))" : "+Inf"
                lines += "\(duration.name)_bucket{\(label),le=\"\(bound)\"} \(cumulative)\n"
            }
            lines += "\(duration.name)_sum{\(label)} \(Self.seconds(total.sum))\n"
            lines += "\(duration.name)_count{\(label)} \(cumulative)\n"
        }
        text.append(contentsOf: lines.utf8)
        return text
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    private static func escaped(_ value: String) -> String {
        // By scalar: "\r\n" is one Character, which a comparison with "\n" would miss.
        guard value.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

/// A small number per thread, given out in the order threads first ask (0, 1, 2, ...), read
/// back from a pthread key: what a thread uses to pick its own shard (`LabMetrics.RouteSeries`).
enum ThreadSlot {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create")
        return key
    }()
    private static let next = Atomic<Int>(0)

    static var current: Int {
        let key = key
        if let stored = pthread_getspecific(key) { return Int(bitPattern: stored) - 1 }
        let slot = next.add(1, ordering: .relaxed).oldValue
        // Stored plus one: a thread that has none reads nil.
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot + 1))
        return slot
    }
}
