import Foundation
import LabJSON
import Patterns
import Runs

/// Realistic runs and events for store tests: ids are real run ids (ULIDs) made from the
/// creation time, so they sort by creation as the registry's do.
struct RunFactory {
    private let ids = RunIDGenerator()
    /// Creation times advance one millisecond per run from here.
    private(set) var clock = Date(timeIntervalSince1970: 1_780_000_000.123_456)

    mutating func nextID(at date: Date? = nil) -> (String, Date) {
        let createdAt = date ?? clock
        clock = max(clock, createdAt).addingTimeInterval(0.001)
        return (ids.next(millisecondsSinceEpoch: UInt64(createdAt.timeIntervalSince1970 * 1000)), createdAt)
    }

    /// A run as the registry saves it when it starts.
    mutating func started(pattern: String = "gather", createdAt: Date? = nil) -> RunRecord {
        let (id, created) = nextID(at: createdAt)
        return RunRecord(
            id: id, pattern: pattern, params: ["count": 3, "delay_ms": 200, "seed": 7], status: .running,
            createdAt: created, startedAt: created, durationMs: 0.3, progress: .init(completed: 0, total: 3))
    }

    /// A run as the registry saves it when it ends, with result, checks and timeline.
    mutating func finished(
        pattern: String = "gather", status: RunStatus = .succeeded, tasks: Int = 3, createdAt: Date? = nil
    ) -> RunRecord {
        Self.ended(started(pattern: pattern, createdAt: createdAt), status: status, tasks: tasks)
    }

    static func ended(_ started: RunRecord, status: RunStatus = .succeeded, tasks: Int = 3) -> RunRecord {
        var record = started
        record.status = status
        record.finishedAt = started.createdAt.addingTimeInterval(0.2013)
        record.durationMs = 201.3
        record.realMs = 201.9
        record.progress = .init(completed: tasks, total: tasks)
        record.result = ["wall_ms": 201.3, "results": .array((0..<tasks).map { .int($0 * 2) }), "in_order": true]
        record.checks = [
            ["name": "results_in_input_order", "expected": "in order", "observed": "in order", "passed": true],
            ["name": "wall_near_max_delay", "expected": "<= 260", "observed": 201.3, "passed": .bool(status == .succeeded)],
        ]
        record.timeline = [
            "spans": .array(
                (0..<tasks).map { task in
                    ["task": .int(task), "label": .string("task-\(task)"), "start_ms": 0.2, "end_ms": 200.4, "outcome": "ok"]
                }),
            "truncated": false,
        ]
        record.error = status == .failed ? "task 1 failed: injected failure" : nil
        return record
    }

    /// The events of a run of `tasks` tasks: started, one started and finished per task, the end.
    static func events(of record: RunRecord, tasks: Int = 3) -> [StoredEvent] {
        var events: [(String, JSONValue)] = [("run.started", ["t_ms": 0.1, "pattern": .string(record.pattern)])]
        for task in 0..<tasks {
            events.append(("task.started", ["t_ms": 0.2, "task": .int(task)]))
            events.append(("task.finished", ["t_ms": 200.4, "task": .int(task), "value": .int(task * 2)]))
        }
        var finished = record.json().objectValue ?? [:]
        finished["t_ms"] = 201.3
        events.append(("run.finished", .object(finished)))
        return events.enumerated().map { index, event in
            StoredEvent(id: index + 1, name: event.0, data: event.1.serializedBytes())
        }
    }
}

extension RunRecord {
    /// The run's JSON as the API serves it: what must survive a trip through the store.
    var apiJSON: String { json().serialized() }
}
