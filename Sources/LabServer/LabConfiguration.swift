import Foundation
import MicroHTTP
import Runs

/// Everything `serve` configures: the HTTP server's bounds, the runs' bounds, and where
/// the page and the contract are.
public struct LabConfiguration: Sendable {
    public static let version = "0.1.0"

    public var server: ServerConfiguration
    public var runs: RunsConfiguration
    /// The SQLite file, or `:memory:` for no persistence.
    public var databasePath: String
    /// Retention of the store: runs kept, and optionally days.
    public var keepRuns: Int = 10_000
    public var keepDays: Int?
    public var publicDirectory: URL
    public var openAPIFile: URL
    /// Longest `?wait=`; a wait is also cut short before the request deadline (then 202).
    public var maxWait: Duration
    public var heartbeatInterval: Duration
    /// SSE `retry:` sent once at the start of each stream.
    public var retryInterval: Duration
    /// Event streams open at once; past it 503. It becomes the HTTP server's stream limit, the
    /// one counter of subscribers (event streams are its only streams). nil: sized from the
    /// open-file limit (`ConnectionBudget`).
    public var maxSubscribers: Int?
    /// When set, POST and DELETE need `Authorization: Bearer <token>`.
    public var apiToken: String?
    /// Which other origins' pages may use the API (`--cors-origins`; default `*`).
    public var cors = CORSPolicy()

    public init(
        server: ServerConfiguration = ServerConfiguration(), runs: RunsConfiguration = RunsConfiguration(),
        databasePath: String = ":memory:", publicDirectory: URL? = nil, openAPIFile: URL? = nil,
        maxWait: Duration = .seconds(60), heartbeatInterval: Duration = .seconds(15),
        retryInterval: Duration = .seconds(2), maxSubscribers: Int? = nil, apiToken: String? = nil
    ) {
        let root = Self.projectRoot()
        self.server = server
        self.runs = runs
        self.databasePath = databasePath
        self.publicDirectory = publicDirectory ?? root.appending(path: "public")
        self.openAPIFile = openAPIFile ?? root.appending(path: "openapi.yaml")
        self.maxWait = maxWait
        self.heartbeatInterval = heartbeatInterval
        self.retryInterval = retryInterval
        self.maxSubscribers = maxSubscribers
        self.apiToken = apiToken
    }

    /// The folder holding `public/` and `openapi.yaml`: the working directory when it has
    /// them (`make run`, tests), else the nearest ancestor of the executable that does
    /// (`.build/release/concurrency-lab` run from anywhere).
    static func projectRoot() -> URL {
        let fileManager = FileManager.default
        let cwd = URL(filePath: fileManager.currentDirectoryPath)
        if fileManager.fileExists(atPath: cwd.appending(path: "openapi.yaml").path) { return cwd }
        let executable = (try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
        var candidate = URL(filePath: executable).standardizedFileURL.deletingLastPathComponent()
        while candidate.path != "/" {
            if fileManager.fileExists(atPath: candidate.appending(path: "openapi.yaml").path) { return candidate }
            candidate.deleteLastPathComponent()
        }
        return cwd
    }
}
