import Foundation
import LabJSON
import Patterns

/// A run as the API shows it and the store keeps it: what was asked, how it went, and
/// (once it ended) its figures, checks and timeline.
public struct RunRecord: Sendable, Hashable {
    public struct Progress: Sendable, Hashable {
        public var completed: Int
        public var total: Int

        public init(completed: Int, total: Int) {
            self.completed = completed
            self.total = total
        }
    }

    public var id: String
    public var pattern: String
    public var params: JSONValue
    public var status: RunStatus
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// In the run's own time: simulated for a `clock: virtual` run, as every figure is.
    public var durationMs: Double?
    /// The real time the run took (so far), beside `durationMs`.
    public var realMs: Double?
    public var progress: Progress
    public var result: JSONValue?
    /// The checks as JSON objects (`Check.json`), so a stored run reads back unchanged.
    public var checks: [JSONValue]
    public var timeline: JSONValue?
    public var error: String?

    public init(
        id: String, pattern: String, params: JSONValue, status: RunStatus, createdAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, durationMs: Double? = nil, realMs: Double? = nil,
        progress: Progress = Progress(completed: 0, total: 0), result: JSONValue? = nil, checks: [JSONValue] = [],
        timeline: JSONValue? = nil, error: String? = nil
    ) {
        self.id = id
        self.pattern = pattern
        self.params = params
        self.status = status
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.realMs = realMs
        self.progress = progress
        self.result = result
        self.checks = checks
        self.timeline = timeline
        self.error = error
    }

    /// nil until the run has ended with checks; then whether every check passed.
    public var checksPassed: Bool? {
        guard status.isTerminal, !checks.isEmpty else { return nil }
        return checks.allSatisfy { $0["passed"] == .bool(true) }
    }

    /// The run's JSON, with `links` when given. The summary (for listings) leaves out `result`
    /// and `timeline`.
    public func json(summary: Bool = false, links: RunLinks = .none) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "pattern": .string(pattern), "params": params, "status": .string(status.rawValue),
            "created_at": .string(Self.timestamp(createdAt)),
            "started_at": startedAt.map { .string(Self.timestamp($0)) } ?? .null,
            "finished_at": finishedAt.map { .string(Self.timestamp($0)) } ?? .null,
            "duration_ms": durationMs.map(JSONValue.milliseconds) ?? .null,
            "real_ms": realMs.map(JSONValue.milliseconds) ?? .null,
            "progress": ["completed": .int(progress.completed), "total": .int(progress.total)],
            "checks": .array(checks), "checks_passed": checksPassed.map(JSONValue.bool) ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
        ]
        if let links = links.json(forRun: id) { object["links"] = links }
        if !summary {
            object["result"] = result ?? .null
            object["timeline"] = timeline ?? .null
        }
        return .object(object)
    }

    /// RFC 3339 UTC with milliseconds: `2026-11-21T22:00:00.123Z`.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Self.timestampStyle)
    }

    public static func parseTimestamp(_ text: String) -> Date? {
        try? Self.timestampStyle.parse(text)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
}
