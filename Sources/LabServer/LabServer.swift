import Foundation
import Logging
import MicroHTTP
import Patterns
import Runs

/// The whole service: the run registry and its store behind the HTTP server.
///
/// Lifecycle: `init` opens the store (SQLite at `databasePath`, unless given one: the CLI opens
/// PostgreSQL), marks runs a dead process left in flight as `interrupted`, and loads the page
/// and the spec; `start` binds; `run` serves until
/// `shutdown`, which is ordered: refuse new runs (503), cancel active runs so every stream
/// gets its `run.finished`, drain the HTTP server (streams end with a final event, in-flight
/// handlers finish or are cancelled, and only then is the daemon stopped), flush the store.
public final class LabServer: Sendable {
    public let configuration: LabConfiguration
    public let registry: RunRegistry
    public let store: any RunStore
    public let metrics: LabMetrics
    let server: Server
    let application: LabApplication
    /// The connection and stream limits, sized from the open-file limit at start.
    public let budget: ConnectionBudget
    private let logger: Logger

    /// Serves with `store` (opened by the caller: the CLI opens PostgreSQL), or with the SQLite
    /// store at `configuration.databasePath` when nil. A store that is also a `RunCluster`
    /// (PostgreSQL) makes this instance one of several answering for the same runs.
    public init(
        configuration: LabConfiguration, store: (any RunStore)? = nil, logger: Logger = Logger(label: "concurrency-lab")
    ) async throws {
        self.configuration = configuration
        self.logger = logger
        self.store = try await Self.prepareStore(store, configuration, logger: logger)
        registry = RunRegistry(
            catalog: PatternCatalog(limits: configuration.runs.limits), configuration: configuration.runs, store: self.store,
            cluster: self.store as? any RunCluster, links: ResourcePaths.runLinks, logger: logger)
        metrics = LabMetrics(patterns: registry.catalog.patterns.map(\.name))
        let serverConfiguration: ServerConfiguration
        (serverConfiguration, budget) = Self.sizeConnections(configuration)
        let staticFiles = try StaticFiles(directory: configuration.publicDirectory)
        let openAPI = try [UInt8](Data(contentsOf: configuration.openAPIFile))
        // The application reads the server's statistics at scrape time; the server needs the
        // application first, so the reference goes through a box set right after.
        let serverReference = Locked<Server?>(nil)
        application = LabApplication(
            registry: registry, configuration: configuration, staticFiles: staticFiles, openAPI: openAPI, metrics: metrics,
            serverStatistics: { serverReference.value?.stats },
            streamRefusal: { serverReference.value?.streamRefusal() })
        server = Server(configuration: serverConfiguration, handler: application)
        serverReference.withLock { $0 = server }
    }

    /// The HTTP server's configuration as the lab runs it: its refusals in the lab's problem
    /// format, request deadlines on the shared timer heap, and, after raising the open-file
    /// limit (unless told not to), the connection limit and the one stream limit (event streams
    /// are the server's only streams) decided inside it.
    static func sizeConnections(_ configuration: LabConfiguration) -> (ServerConfiguration, ConnectionBudget) {
        var server = configuration.server
        server.maxStreams = configuration.maxSubscribers ?? server.maxStreams
        server.refusalBody = ProblemResponse.refusalBody(headers: configuration.cors.refusalHeaders)
        server.deadlineTimers = SharedDeadlineTimers()
        if server.raisesDescriptorLimit { DescriptorLimit.raiseSoftToHard() }
        let budget = ConnectionBudget(server)
        server.connectionLimit = budget.connectionLimit
        server.maxStreams = budget.maxStreams
        return (server, budget)
    }

    /// Opens the SQLite store unless given one, and marks runs a dead process left in flight as
    /// `interrupted`.
    static func prepareStore(_ given: (any RunStore)?, _ configuration: LabConfiguration, logger: Logger) async throws -> any RunStore {
        var storeLogger = logger
        storeLogger[metadataKey: "component"] = "store"
        let store =
            try given
            ?? SQLiteRunStore(
                path: configuration.databasePath,
                retention: .init(keepRuns: configuration.keepRuns, keepDays: configuration.keepDays), logger: storeLogger)
        let interrupted = try await store.markInterrupted(at: Date(), links: ResourcePaths.runLinks)
        if interrupted > 0 { logger.notice("marked runs interrupted", metadata: ["count": "\(interrupted)"]) }
        return store
    }

    /// Binds and starts answering; returns the bound port (useful with port 0).
    @discardableResult
    public func start() throws -> Int {
        try server.start()
        logger.notice("listening on http://\(configuration.server.host):\(server.port)/")
        let first = DescriptorLimit.atFirstRead
        let raised = first.soft < budget.descriptors.soft ? " (raised from \(first.soft) at start)" : ""
        logger.notice(
            "open files: \(budget.descriptors)\(raised); connections up to \(budget.connectionLimit), event streams up to \(budget.maxStreams)")
        for warning in budget.warnings { logger.warning("\(warning)") }
        return Int(server.port)
    }

    public var port: Int { Int(server.port) }

    /// Event streams open now.
    public var openStreams: Int { server.stats.openStreams }

    /// Runs the registry's and the store's service loops until `shutdown()` ends them.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.store.run() }
            group.addTask { await self.registry.run() }
        }
    }

    /// Returns whether every run ended within the shutdown grace; when not, the caller
    /// decides whether to wait for `run()` or to exit with the stragglers left behind.
    @discardableResult
    public func shutdown() async -> Bool {
        logger.notice("shutting down")
        let drained = await registry.shutdown(grace: configuration.server.shutdownGrace)
        if !drained { logger.warning("runs still running after the shutdown grace; leaving them (they will be marked interrupted)") }
        await server.shutdown(deadline: configuration.server.shutdownGrace)
        await store.shutdown()
        logger.notice("stopped")
        return drained
    }
}
