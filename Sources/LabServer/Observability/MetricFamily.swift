/// The metric families `/metrics` exports, by Prometheus' conventions: counters typed
/// `counter` and named `_total`, units in names (`_seconds`), a `# HELP` and a `# TYPE` on every
/// family. The spec's `/metrics` description lists the same names (a test holds them together).
enum MetricFamily: String, CaseIterable, Sendable {
    case httpRequests = "lab_http_requests_total"
    case httpRequestDuration = "lab_http_request_duration_seconds"
    case httpRequestsInFlight = "lab_http_requests_in_flight"
    case httpOpenConnections = "lab_http_open_connections"
    case httpRequestTimeouts = "lab_http_request_timeouts_total"
    case admissionRejections = "lab_admission_rejections_total"
    case runsActive = "lab_runs_active"
    case runsStarted = "lab_runs_started_total"
    case runsEnded = "lab_runs_ended_total"
    case sseSubscribers = "lab_sse_subscribers"
    case clusterPermitsInUse = "lab_cluster_run_permits_in_use"
    case clusterPermitsLimit = "lab_cluster_run_permits_limit"

    enum Kind: String { case counter, gauge, histogram }

    var name: String { rawValue }

    var kind: Kind {
        switch self {
        case .httpRequests, .httpRequestTimeouts, .admissionRejections, .runsStarted, .runsEnded: .counter
        case .httpRequestDuration: .histogram
        case .httpRequestsInFlight, .httpOpenConnections, .runsActive, .sseSubscribers, .clusterPermitsInUse,
            .clusterPermitsLimit:
            .gauge
        }
    }

    var help: String {
        switch self {
        case .httpRequests: "HTTP requests answered by the application, by route template, method and status."
        case .httpRequestDuration:
            "Seconds from a request's arrival to its answer; for an event stream, to the stream's end."
        case .httpRequestsInFlight: "Requests being handled now (the admission bound's count)."
        case .httpOpenConnections: "Open client connections."
        case .httpRequestTimeouts: "Requests answered 504 because their handler missed the request deadline."
        case .admissionRejections:
            "Requests or connections refused at once by a bound (too_many_runs, in_flight, streams, connections)."
        case .runsActive: "Runs queued or running now."
        case .runsStarted: "Runs launched, by pattern."
        case .runsEnded: "Runs ended, by pattern and final status."
        case .sseSubscribers: "Event streams open now (the server's only streams)."
        case .clusterPermitsInUse:
            "Cluster permits taken by active runs across every instance, as of this instance's last lease renewal (0 without a cluster bound)."
        case .clusterPermitsLimit: "The cluster-wide bound on active runs (--cluster-max-concurrent-runs; 0: none)."
        }
    }

    /// Why a request or connection was refused: the `reason` label's values, exported from
    /// the start (at 0) so a rate over them never starts from a missing series.
    static let rejectionReasons = ["too_many_runs", "in_flight", "streams", "connections"]
}
