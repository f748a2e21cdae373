import Prometheus
import Synchronization

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

    /// One route's request metrics: its duration histogram, and its counters by method and
    /// status. A handler that knows its route keeps this and records through it: one short
    /// scan of the few (method, status) pairs the route has answered, where a lookup by
    /// (route, method, status) hashed two strings on every request.
    final class RouteSeries: Sendable {
        let route: String
        private let duration: DurationHistogram
        private let counters = Mutex<[(method: String, status: Int, counter: Counter)]>([])
        private let registry: PrometheusCollectorRegistry

        init(route: String, registry: PrometheusCollectorRegistry) {
            self.route = route
            self.registry = registry
            duration = registry.makeDurationHistogram(
                descriptor: LabMetrics.descriptor(.httpRequestDuration), labels: [("route", route)],
                buckets: LabMetrics.durationBuckets)
        }

        func record(method: String, status: Int, duration elapsed: Duration) {
            counters.withLock { counters in
                if let index = counters.firstIndex(where: { $0.status == status && $0.method == method }) {
                    counters[index].counter.increment()
                    return
                }
                let counter = registry.makeCounter(
                    descriptor: LabMetrics.descriptor(.httpRequests),
                    labels: [("route", route), ("method", method), ("status", String(status))])
                counter.increment()
                counters.append((method, status, counter))
            }
            duration.record(elapsed)
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
            let series = RouteSeries(route: route, registry: registry)
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

    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}
