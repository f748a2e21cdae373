import ArgumentParser
import Foundation
import LabServer
import Logging
import MicroHTTP
import Runs

/// `concurrency-lab serve`: the HTTP service. Every bound of DESIGN.md section 5 is a flag.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the API, the event streams and the browser page over HTTP.")

    @OptionGroup(title: "Network") var network: NetworkOptions
    @OptionGroup(title: "Runs") var runs: RunOptions
    @OptionGroup(title: "Storage") var storage: StorageOptions

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        let allocator = Allocator.configure()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let sink = LogSink()
        LoggingSystem.bootstrap { label in BufferedLogHandler(label: label, sink: sink, logLevel: level) }
        defer { sink.flush() }
        let logger = Logger(label: "concurrency-lab")
        let configuration = try makeConfiguration(logger: logger, accessLog: AccessLogLines(sink: sink, label: logger.label))
        if !["127.0.0.1", "localhost", "::1"].contains(network.host) {
            logger.warning("binding \(network.host): the service is reachable from other machines; consider --api-token")
        }
        let lab: LabServer
        do {
            let store = try await StoreOpener.open(storage, network, logger: logger)
            lab = try await LabServer(configuration: configuration, store: store, logger: logger)
            try lab.start()
            // After the start: a start that fails says so in one line, and only that.
            logger.info("allocator: \(allocator)")
        } catch {
            // One line, and exit 2 for a store that cannot be used (a bad URL, an unreachable or
            // refusing database, a newer schema, a damaged file).
            logger.critical("cannot start: \(error)")
            sink.flush()
            throw ExitCode(error is StoreOpener.Failure || error is RunStoreError ? 2 : 1)
        }
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT])
        await withDiscardingTaskGroup { group in
            group.addTask { await lab.run() }
            group.addTask {
                guard let signal = await signals.first() else { return }
                logger.notice("received signal \(signal); draining (send it again to exit at once)")
                signals.exitOnNextSignal()
                // A run stuck in a blocking call would keep `run()` from ever returning:
                // past the grace, everything else has been drained and saved, so exit.
                if await !lab.shutdown() {
                    sink.flush()
                    Foundation.exit(0)
                }
            }
        }
    }

    private func makeConfiguration(logger: Logger, accessLog: AccessLogLines) throws -> LabConfiguration {
        var server = ServerConfiguration()
        network.apply(to: &server)
        server.logger = logger
        server.accessLogWriter = accessLog
        var configuration = LabConfiguration(
            // A PostgreSQL URL (with its password) stays out of the configuration: the CLI opens it.
            server: server, runs: runs.runsConfiguration(),
            databasePath: StoreOpener.isPostgres(storage) ? ":memory:" : storage.location,
            maxWait: .seconds(runs.maxWait), heartbeatInterval: .seconds(network.heartbeatSeconds),
            maxSubscribers: network.maxSubscribers,
            apiToken: network.apiToken ?? ProcessInfo.processInfo.environment["LAB_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        configuration.cors = try CORSPolicy(parsing: network.corsOrigins)
        configuration.keepRuns = storage.keepRuns
        configuration.keepDays = storage.keepDays
        return configuration
    }
}
