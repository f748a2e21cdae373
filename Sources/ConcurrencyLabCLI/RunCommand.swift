import ArgumentParser
import Foundation
import LabServer
import LabJSON
import Logging
import Patterns
import Runs

/// `concurrency-lab run PATTERN`: one run here, no server. Prints the run's JSON on stdout
/// and a live progress bar on stderr when stderr is a terminal.
/// Exit status: 0 every check passed, 1 a check failed or the run did not succeed,
/// 2 bad parameters.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run one pattern locally and print its result, checks and timeline.",
        discussion: """
            Examples:
              concurrency-lab run semaphore --param count=20 --param limit=3 --param delay_ms=50
              concurrency-lab run first-completed --param delays_ms=300,100,200
              concurrency-lab run gather --json '{"count": 1000, "delay_ms": 100}'
              concurrency-lab run lock --param use_lock=false --trace lock.trace.json
              concurrency-lab run semaphore --clock virtual --param count=10000 --param limit=100 --param delay_ms=10000
            """)

    @Argument(help: "The pattern's name (see `concurrency-lab patterns`).")
    var pattern: String

    @Option(name: .long, help: ArgumentHelp("A parameter as key=value; repeat it. Lists are comma-separated.", valueName: "key=value"))
    var param: [String] = []

    @Option(name: .long, help: ArgumentHelp("All parameters as one JSON object.", valueName: "object"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp(
        "real: sleeps take real time. virtual: time jumps to the next deadline whenever every task waits (instant, and the same every time). The same as --param clock=...",
        valueName: "real|virtual"))
    var clock: ClockMode?

    @Option(name: .long, help: ArgumentHelp(
        "Also write the run in the Chrome Trace Event format to this file (open it in Perfetto's UI or chrome://tracing).",
        valueName: "file"))
    var trace: String?

    @Flag(name: .long, help: "Print the run as one line of JSON.")
    var compact = false

    @Flag(name: .long, help: "No progress bar, even on a terminal.")
    var noProgress = false

    func run() async throws {
        _ = Allocator.configure()  // as `serve` runs patterns
        let raw: [String: RawParameter]
        do {
            raw = try parameters()
        } catch let message as UsageProblem {
            FileHandle.standardError.write(Data("concurrency-lab run: \(message.text)\n".utf8))
            throw ExitCode(2)
        }
        // stdout carries the run's JSON only: diagnostics go to stderr, and only warnings.
        var logger = Logger(label: "concurrency-lab") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .warning
        // The links a served run would have, so the output reads like the API's.
        let registry = RunRegistry(catalog: PatternCatalog(), links: ResourcePaths.runLinks, logger: logger)
        let record = try await withThrowingTaskGroup(of: RunRecord?.self) { group in
            group.addTask {
                await registry.run()
                return nil
            }
            let record = try await launchAndWait(registry, raw)
            if let trace { try await writeTrace(of: record, from: registry, to: trace) }
            await registry.shutdown()
            return record
        }
        let json = record.json(links: registry.links)
        print(compact ? json.serialized() : json.prettySerialized())
        if record.status != .succeeded || record.checksPassed == false { throw ExitCode(1) }
    }

    private func launchAndWait(_ registry: RunRegistry, _ raw: [String: RawParameter]) async throws -> RunRecord {
        let live: LiveRun
        do {
            live = try await registry.launch(pattern: pattern, parameters: raw)
        } catch {
            FileHandle.standardError.write(Data("concurrency-lab run: \(Self.describe(error))\n".utf8))
            throw ExitCode(2)
        }
        if !noProgress, isatty(STDERR_FILENO) == 1 {
            await ProgressBar(title: pattern).follow(live.log)
        } else {
            await live.finished.wait()
        }
        return try await registry.record(id: live.id)
    }

    /// The run's trace (`ChromeTrace`), written where `--trace` says; a file that cannot be
    /// written is reported and fails the command with status 2.
    private func writeTrace(of record: RunRecord, from registry: RunRegistry, to path: String) async throws {
        let log = try await registry.eventLog(id: record.id)
        await log.waitUntilFinished()
        let counters = registry.catalog.pattern(named: record.pattern)?.counters ?? []
        let bytes = ChromeTrace(record: record, events: log.allEvents, counters: counters).serializedBytes()
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            FileHandle.standardError.write(Data("concurrency-lab run: cannot write the trace to \(path): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
    }

    struct UsageProblem: Error {
        let text: String
    }

    private func parameters() throws -> [String: RawParameter] {
        var raw: [String: RawParameter] = [:]
        if let json {
            guard case .object(let members)? = try? JSONValue.parse(json) else {
                throw UsageProblem(text: "--json must be a JSON object, like '{\"count\": 10}'")
            }
            raw = members.mapValues(RawParameter.json)
        }
        for pair in param {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw UsageProblem(text: "--param takes key=value, got '\(pair)'")
            }
            raw[String(parts[0])] = .text(String(parts[1]))
        }
        if let clock { raw[ClockMode.parameterName] = .text(clock.rawValue) }
        return raw
    }

    static func describe(_ error: RunsError) -> String {
        switch error {
        case .unknownPattern(let name):
            "no pattern is named '\(name)'; `concurrency-lab patterns` lists them"
        case .invalidParameters(let issues):
            "invalid parameters:\n" + issues.map { "  \($0.field): \($0.message)" }.joined(separator: "\n")
        default:
            String(describing: error)
        }
    }
}

extension ClockMode: ExpressibleByArgument {}
