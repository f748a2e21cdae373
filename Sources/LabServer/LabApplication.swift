import Foundation
import Logging
import MicroHTTP
import Runs

/// The one route table, and the dispatch from a request to its handler.
///
/// A request is matched once, on the server's thread: routes that never wait (health, catalog,
/// static files, the spec) answer there; the rest run as tasks with the match they were given.
public final class LabApplication: HTTPHandler {
    enum Endpoint: Sendable {
        case health, patterns, pattern, launch, runs, run, events, trace, cancel, openAPI, metrics, page
        var isImmediate: Bool {
            switch self {
            case .health, .patterns, .pattern, .openAPI, .page: true
            case .launch, .runs, .run, .events, .trace, .cancel, .metrics: false
            }
        }
    }

    static let routes: RouteTable<Endpoint> = {
        var table = RouteTable<Endpoint>()
        table.add("GET", "/", .page)
        table.add("GET", "/healthz", .health)
        table.add("GET", "/patterns", .patterns)
        table.add("GET", "/patterns/{name}", .pattern)
        table.add("POST", "/patterns/{name}/runs", .launch)
        table.add("GET", "/runs", .runs)
        table.add("GET", ResourcePaths.run, .run)
        table.add("DELETE", ResourcePaths.run, .cancel)
        table.add("GET", ResourcePaths.runEvents, .events)
        table.add("GET", ResourcePaths.runTrace, .trace)
        table.add("GET", "/openapi.yaml", .openAPI)
        table.add("GET", "/metrics", .metrics)
        return table
    }()

    let registry: RunRegistry
    let configuration: LabConfiguration
    let metrics: LabMetrics
    let staticFiles: StaticFiles
    let catalog: CatalogHandlers
    let system: SystemHandlers
    let runHandlers: RunHandlers
    let streams: EventStreamHandler
    let serverStatistics: @Sendable () -> ServerStats?
    /// Each route's metrics, by `Route.index`; and those of the answers no route gave.
    private let routeSeries: [LabMetrics.RouteSeries]
    private let staticSeries: LabMetrics.RouteSeries
    private let unmatchedSeries: LabMetrics.RouteSeries

    init(
        registry: RunRegistry, configuration: LabConfiguration, staticFiles: StaticFiles, openAPI: [UInt8],
        metrics: LabMetrics, serverStatistics: @escaping @Sendable () -> ServerStats?,
        streamRefusal: @escaping @Sendable () -> Refusal?
    ) {
        self.registry = registry
        self.configuration = configuration
        self.metrics = metrics
        self.staticFiles = staticFiles
        self.serverStatistics = serverStatistics
        catalog = CatalogHandlers(catalog: registry.catalog)
        let store = registry.store
        system = SystemHandlers(openAPI: openAPI, metrics: metrics, storeHealthy: { store.isHealthy })
        streams = EventStreamHandler(
            heartbeatInterval: configuration.heartbeatInterval, retryInterval: configuration.retryInterval,
            streamRefusal: streamRefusal)
        runHandlers = RunHandlers(registry: registry, configuration: configuration, streams: streams)
        routeSeries = Self.routes.routes.map { metrics.series(route: $0.template.description) }
        staticSeries = metrics.series(route: "static")
        unmatchedSeries = metrics.series(route: "unmatched")
    }

    public func handle(_ request: Request) -> Handling {
        let started = request.received
        if request.method == "OPTIONS" { return .now(options(request, started: started)) }
        let (series, response): (LabMetrics.RouteSeries, Response)
        switch Self.routes.match(method: request.method, path: request.path) {
        case .found(let found, let parameters):
            if found.handler == .events, let live = registry.liveRun(id: parameters["id"] ?? "") {
                // A run in memory streams from here: no permit, no task, no hop (a burst of ten
                // thousand subscribers must not queue behind the in-flight bound).
                series = routeSeries[found.index]
                response = stream(live.log, request, isVirtual: live.isVirtual)
                break
            }
            if found.handler == .events, !request.queryFields.contains(where: { $0.0 == "pace" }),
                let log = registry.followedLog(id: parameters["id"] ?? "")
            {
                // Another instance's run followed here already: the same, for its next subscribers
                // (without `pace`, the run's clock does not matter).
                series = routeSeries[found.index]
                response = stream(log, request, isVirtual: false)
                break
            }
            guard found.handler.isImmediate else {
                return .later { request in await self.respond(to: request, found, parameters) }
            }
            series = routeSeries[found.index]
            response = answer(immediate: found.handler, request, parameters)
        case .methodNotAllowed(let allowed):
            series = unmatchedSeries
            response = ProblemResponse.make(for: .methodNotAllowed(allowed: allowed), instance: request.path)
        case .notFound:
            series = staticSeries
            response = staticFile(request)
        }
        return .now(finish(consume response, request, series: series, started: started))
    }

    private func respond(
        to request: Request, _ found: RouteTable<Endpoint>.Route, _ parameters: [String: String]
    ) async -> Response {
        let started = request.received
        let response: Response
        do {
            response = try await answer(found.handler, request, parameters)
        } catch {
            response = ProblemResponse.make(for: error, instance: request.path)
        }
        return finish(response, request, series: routeSeries[found.index], started: started)
    }

    private func answer(immediate endpoint: Endpoint, _ request: Request, _ parameters: [String: String]) -> Response {
        switch endpoint {
        case .page: return staticFile(request)
        case .health: return system.health()
        case .patterns: return catalog.patterns()
        case .openAPI: return system.openAPIDocument(accept: request.header("Accept"))
        case .pattern:
            do {
                return try catalog.pattern(named: parameters["name"] ?? "")
            } catch {
                return ProblemResponse.make(for: error, instance: request.path)
            }
        default: preconditionFailure("\(endpoint) is not answered immediately")
        }
    }

    private func answer(_ endpoint: Endpoint, _ request: Request, _ parameters: [String: String]) async throws(LabError) -> Response {
        let id = parameters["id"] ?? ""
        switch endpoint {
        case .launch:
            try authorize(request)
            return try await runHandlers.launch(request, pattern: parameters["name"] ?? "")
        case .runs: return try await runHandlers.list(request)
        case .run: return try await runHandlers.run(request, id: id)
        case .trace: return try await runHandlers.trace(id: id)
        case .cancel:
            try authorize(request)
            return try await runHandlers.cancel(id: id)
        case .events:
            // The query is checked before the run is looked up: a bad value is 400 whatever the id.
            let pace = try PaceParameter.parse(request)
            _ = try EventStreamHandler.resumePoint(request)
            let log: EventLog
            let isVirtual: Bool
            do {
                log = try await registry.eventLog(id: id)
                // Only a pace needs the run's clock (a store read for a run not in memory).
                isVirtual = pace == nil ? false : try await registry.clockMode(id: id) == .virtual
            } catch {
                throw .runs(error)
            }
            return stream(log, request, isVirtual: isVirtual)
        case .metrics: return await system.metricsText(registry: registry, server: serverStatistics())
        default: return answer(immediate: endpoint, request, parameters)
        }
    }

    /// A run's stream; `?pace=` applies to a virtual run only: a real run's events come at the
    /// pace they happen already (see `PaceParameter`).
    private func stream(_ log: EventLog, _ request: Request, isVirtual: Bool) -> Response {
        do {
            let pace = try PaceParameter.parse(request)
            return try streams.stream(log, after: EventStreamHandler.resumePoint(request), pace: isVirtual ? pace : nil)
        } catch {
            return ProblemResponse.make(for: error, instance: request.path)
        }
    }

    private func staticFile(_ request: Request) -> Response {
        guard request.method == "GET" || request.method == "HEAD" else {
            return ProblemResponse.make(for: .notFound("no resource at \(request.path)"), instance: request.path)
        }
        return staticFiles.response(for: request.path, ifNoneMatch: request.header("If-None-Match"))
            ?? ProblemResponse.make(for: .notFound("no resource at \(request.path)"), instance: request.path)
    }

    private func authorize(_ request: Request) throws(LabError) {
        guard let token = configuration.apiToken else { return }
        guard request.header("Authorization") == "Bearer \(token)" else { throw .unauthorized }
    }

    /// `OPTIONS` on any path the table serves: its methods, and a CORS preflight's answer when
    /// the policy grants the origin. Never needs the API token (a preflight carries none).
    private func options(_ request: Request, started: ContinuousClock.Instant) -> Response {
        guard let (template, methods) = Self.routes.methods(at: request.path) else {
            return finish(ProblemResponse.make(for: .notFound("no resource at \(request.path)"), instance: request.path),
                          request, series: staticSeries, started: started)
        }
        let response = configuration.cors.preflight(
            origin: request.header("Origin"), requestsMethod: request.header("Access-Control-Request-Method") != nil,
            methods: methods)
        metrics.series(route: template.description).record(method: "OPTIONS", status: response.status, duration: started.duration(to: .now))
        return response
    }

    /// Adds the CORS grant (`configuration.cors`) to every answer, whatever its method and
    /// status, and records the request's metrics: a stream's when it ends, so that its duration
    /// is the stream's and not its head's.
    ///
    /// `response` is consumed: its header array is the handler's, extended in place (a copy
    /// here was an allocation on every request).
    private func finish(
        _ response: consuming Response, _ request: Request, series: LabMetrics.RouteSeries, started: ContinuousClock.Instant
    ) -> Response {
        var response = response
        if !response.headers.contains(where: { $0.0 == "Access-Control-Allow-Origin" }) {
            response.headers.append(contentsOf: configuration.cors.headers(origin: request.header("Origin")))
        }
        let method = request.method
        let status = response.status
        switch response.body {
        case .bytes:
            series.record(method: method, status: status, duration: started.duration(to: .now))
        case .stream(let produce):
            let record = recordWhenEnded(series, method: method, status: status, started: started)
            response.body = .stream { writer in
                record(writer)
                await produce(writer)
            }
        case .attached(let attach):
            let record = recordWhenEnded(series, method: method, status: status, started: started)
            response.body = .attached { writer in
                record(writer)
                attach(writer)
            }
        }
        return response
    }

    /// Records a stream's request when the stream ends.
    private func recordWhenEnded(
        _ series: LabMetrics.RouteSeries, method: String, status: Int, started: ContinuousClock.Instant
    ) -> @Sendable (StreamWriter) -> Void {
        { writer in
            writer.whenEnded { series.record(method: method, status: status, duration: started.duration(to: .now)) }
        }
    }
}
