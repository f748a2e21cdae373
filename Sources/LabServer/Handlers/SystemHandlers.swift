import Foundation
import LabJSON
import MicroHTTP
import Runs
import Synchronization

/// `GET /healthz`, `GET /openapi.yaml`, `GET /metrics`.
final class SystemHandlers: Sendable {
    /// When the handlers were made, on the coarse monotonic clock (`uptimeNanoseconds`).
    private let startedAt: Int
    let openAPI: [UInt8]
    let metrics: LabMetrics
    /// Whether the store's last write succeeded; a failing store leaves the server up (runs
    /// are served from memory), so health says so rather than failing.
    let storeHealthy: @Sendable () -> Bool
    /// The last health body and what it was made from: the body only changes when the uptime
    /// passes a tenth of a second or the store's state flips, and load balancers and the bench
    /// ask far more often than that.
    private let healthBody = Mutex<(deciseconds: Int, storeOK: Bool, bytes: [UInt8])>((-1, true, []))

    init(openAPI: [UInt8], metrics: LabMetrics, storeHealthy: @escaping @Sendable () -> Bool) {
        startedAt = Self.coarseNanoseconds()
        self.openAPI = openAPI
        self.metrics = metrics
        self.storeHealthy = storeHealthy
    }

    func health() -> Response {
        let deciseconds = (Self.coarseNanoseconds() - startedAt + 50_000_000) / 100_000_000
        let storeOK = storeHealthy()
        let bytes = healthBody.withLock { cached in
            if cached.deciseconds != deciseconds || cached.storeOK != storeOK {
                let body: JSONValue = [
                    "status": "ok", "version": .string(LabConfiguration.version),
                    "uptime_s": .double(Double(deciseconds) / 10),
                    "store": storeOK ? "ok" : "failing",
                ]
                cached = (deciseconds, storeOK, body.serializedBytes())
            }
            return cached.bytes
        }
        return JSONResponse.make(200, bytes: bytes)
    }

    /// CLOCK_MONOTONIC_COARSE in nanoseconds: its resolution (a few milliseconds) is plenty
    /// for an uptime in tenths of a second, and it reads in a fifth of the fine clock's time
    /// (`ContinuousClock.now` and `Duration`'s 128-bit arithmetic showed in health's profile).
    static func coarseNanoseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }

    /// The spec as `application/yaml` (RFC 9512), or as `text/yaml` to a client that asks for
    /// that and not the former: both are declared, so a generator that reads only `text/*`
    /// still has a response it can parse.
    func openAPIDocument(accept: String?) -> Response {
        let accept = accept?.lowercased() ?? ""
        let type = accept.contains("text/yaml") && !accept.contains("application/yaml") ? "text/yaml" : "application/yaml"
        return Response(status: 200, headers: [("Content-Type", type)], body: .bytes(openAPI))
    }

    func metricsText(registry: RunRegistry, server: ServerStats?) async -> Response {
        let statistics = await registry.statistics
        metrics.set(.runsActive, await registry.activeCount)
        metrics.set(.clusterPermitsLimit, registry.cluster?.clusterRunLimit ?? 0)
        metrics.set(.clusterPermitsInUse, registry.cluster?.permitsInUse ?? 0)
        for (pattern, count) in statistics.started {
            metrics.advance(.runsStarted, to: count, labels: [("pattern", pattern)])
        }
        for (key, count) in statistics.ended {
            metrics.advance(.runsEnded, to: count, labels: [("pattern", key.pattern), ("status", key.status.rawValue)])
        }
        metrics.advance(.admissionRejections, to: statistics.rejected, labels: [("reason", "too_many_runs")])
        if let server {
            metrics.advance(.admissionRejections, to: server.admissionRejections, labels: [("reason", "in_flight")])
            metrics.advance(.admissionRejections, to: server.streamRejections, labels: [("reason", "streams")])
            metrics.advance(.admissionRejections, to: server.connectionRejections, labels: [("reason", "connections")])
            metrics.advance(.httpRequestTimeouts, to: server.requestTimeouts)
            metrics.set(.httpOpenConnections, server.openConnections)
            metrics.set(.httpRequestsInFlight, server.requestsInFlight)
            // Event streams are the server's only streams: its open streams are the subscribers.
            metrics.set(.sseSubscribers, server.openStreams)
        }
        return Response(
            status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
            body: .bytes(metrics.render()))
    }
}
