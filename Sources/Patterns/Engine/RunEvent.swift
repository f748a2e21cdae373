/// One thing that happened in a run, timestamped on the run's clock. The event log (in
/// Runs) gives it its id; `data` always carries `t_ms`.
public struct RunEvent: Sendable {
    public let name: String
    public let data: [String: JSONValue]

    public init(name: String, data: [String: JSONValue]) {
        self.name = name
        self.data = data
    }
}

/// Where a run's events go. `append` is called from the run's tasks, concurrently: it must
/// be thread-safe, must not block, and must not suspend.
public protocol RunEventSink: Sendable {
    func append(_ event: RunEvent)
}

/// How a run ended. Whether the pattern behaved is what `checks` say, not this.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled, interrupted

    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled, .interrupted: true
        }
    }
}
