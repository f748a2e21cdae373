import LabJSON

/// The links a run's JSON carries under `links` (its own resource, its event stream), by name.
///
/// Runs writes a run's JSON in three places (a live run's snapshot, its `run.finished` event,
/// a run marked `interrupted` at start) but knows no URL: whoever serves runs over HTTP
/// supplies the links (LabServer makes them from its route table). With `.none` a run has no
/// `links` member.
public struct RunLinks: Sendable {
    private let make: @Sendable (_ runID: String) -> [String: String]

    public init(_ make: @escaping @Sendable (_ runID: String) -> [String: String]) {
        self.make = make
    }

    /// No links: a run that lives on no server (`concurrency-lab run`, tests).
    public static let none = RunLinks { _ in [:] }

    /// The `links` object of run `runID`, or nil when there are none.
    func json(forRun runID: String) -> JSONValue? {
        let links = make(runID)
        return links.isEmpty ? nil : .object(links.mapValues(JSONValue.string))
    }
}
