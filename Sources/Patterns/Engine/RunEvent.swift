import LabJSON

/// One thing that happened in a run, timestamped on the run's clock. The event log (in
/// Runs) gives it its id; `data` always carries `t_ms`.
public struct RunEvent: Sendable {
    public let name: String
    private let members: [String: JSONValue]?
    private let serialized: SerializedJSON?

    public init(name: String, data: [String: JSONValue]) {
        self.name = name
        members = data
        serialized = nil
    }

    /// An event whose data the recorder wrote as JSON itself (the per-task events, a run's
    /// most frequent: no dictionary is built for them).
    public init(name: String, serializedData: SerializedJSON) {
        self.name = name
        members = nil
        serialized = serializedData
    }

    /// The data's members (parsed, for an event made from serialized data).
    public var data: [String: JSONValue] {
        members ?? serialized?.value.objectValue ?? [:]
    }

    /// The data as JSON.
    public var serializedData: [UInt8] {
        serialized?.bytes ?? JSONValue.object(members ?? [:]).serializedBytes()
    }
}

/// Where a run's events go. `append` is called from the run's tasks, concurrently: it must
/// be thread-safe, must not block, and must not suspend.
public protocol RunEventSink: Sendable {
    func append(_ event: RunEvent)
    /// Appends `events` in order, as one: a sink that can (the event log) makes them visible
    /// together, so a subscriber gets them in one write instead of one each.
    func append(contentsOf events: [RunEvent])
}

extension RunEventSink {
    public func append(contentsOf events: [RunEvent]) {
        for event in events { append(event) }
    }
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
