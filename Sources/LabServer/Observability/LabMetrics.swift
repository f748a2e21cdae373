import CoreMetrics
import Prometheus
import Synchronization

/// The server's metrics, through swift-metrics into a Prometheus registry of its own (no
/// global bootstrap, so several servers can live in one test process).
///
/// Request counters are labelled by route template (`/runs/{id}`), never by raw path, so
/// the number of series stays bounded whatever clients send.
public final class LabMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Per (route, method, status): its counter and its route's duration histogram, found
    /// with one lock and one lookup per request.
    private let requestMetrics = Mutex<[RequestKey: (count: CoreMetrics.Counter, duration: CoreMetrics.Timer)]>([:])
    private let gauges = Mutex<[GaugeKey: CoreMetrics.Gauge]>([:])
    private let durations = Mutex<[String: CoreMetrics.Timer]>([:])
    let runsActive: CoreMetrics.Gauge

    struct GaugeKey: Hashable {
        let name: String
        let labels: [String]
    }

    struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
            .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        ]
        self.factory = factory
        runsActive = CoreMetrics.Gauge(label: "lab_runs_active", dimensions: [], factory: factory)
    }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let metrics = requestMetrics.withLock { all in
            if let metrics = all[key] { return metrics }
            let metrics = (
                count: CoreMetrics.Counter(
                    label: "lab_http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory),
                duration: durationTimer(route: route))
            all[key] = metrics
            return metrics
        }
        metrics.count.increment()
        metrics.duration.recordNanoseconds(duration.nanoseconds)
    }

    /// The one duration histogram of `route` (shared by its methods and statuses).
    private func durationTimer(route: String) -> CoreMetrics.Timer {
        durations.withLock { timers in
            if let timer = timers[route] { return timer }
            let timer = CoreMetrics.Timer(
                label: "lab_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            timers[route] = timer
            return timer
        }
    }

    /// Sets a gauge from a value read at scrape time.
    func set(_ name: String, _ value: Int, labels: [(String, String)] = []) {
        let key = GaugeKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        let gauge = gauges.withLock { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            gauges[key] = gauge
            return gauge
        }
        gauge.record(value)
    }

    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
