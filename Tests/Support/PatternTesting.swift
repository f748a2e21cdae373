import LabJSON
import Patterns

/// Validation as the service does it, for tests of a pattern's parameter rules: the
/// fields named by the issues, or an empty list when the parameters are valid.
public func validationIssues(
    _ pattern: any Pattern, _ parameters: [String: JSONValue], limits: PatternLimits = .defaults
) -> [FieldIssue] {
    switch PatternCatalog(limits: limits).validate(parameters.mapValues(RawParameter.json), for: pattern) {
    case .success: []
    case .failure(let error): error.issues
    }
}

extension TestRunResult {
    /// `(event name, task)` for the events that name a task, in order: the shape of a
    /// run's timeline as a test asserts it.
    public func taskEvents(_ names: Set<String>) -> [String] {
        events.filter { names.contains($0.name) }.map { event in
            let subject = event.data["task"] ?? event.data["resource"] ?? event.data["waiter"] ?? event.data["worker"]
            return subject.flatMap(\.intValue).map { "\(event.name) \($0)" } ?? event.name
        }
    }

    /// Whether every span ended with `outcome` for the tasks in `tasks`.
    public func spans(_ tasks: [Int], endedWith outcome: SpanOutcome) -> Bool {
        tasks.allSatisfy { task in timeline.spans.first { $0.task == task }?.outcome == outcome }
    }
}
