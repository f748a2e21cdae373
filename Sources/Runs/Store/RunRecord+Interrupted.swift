import Foundation
import LabJSON

/// A run a dead process left in flight, as every store marks it at the next start.
extension RunRecord {
    /// Why an interrupted run has no result: the same words in every store.
    public static let interruptedError = "the server stopped while this run was in flight"

    /// The run ended `interrupted` at `date`.
    public func interrupted(at date: Date) -> RunRecord {
        var record = self
        record.status = .interrupted
        record.finishedAt = date
        record.error = Self.interruptedError
        return record
    }

    /// The `run.finished` event that ends the run's stream like any other: the run's JSON with
    /// `links`, plus `t_ms`.
    public func finishedEvent(id: Int, links: RunLinks) -> StoredEvent {
        var data = json(links: links).objectValue ?? [:]
        data["t_ms"] = .milliseconds(durationMs ?? 0)
        return StoredEvent(id: id, name: "run.finished", data: JSONValue.object(data).serializedBytes())
    }
}
