import LabJSON

/// A concurrency pattern as a parameterised, observable, self-verifying experiment.
///
/// A pattern declares its parameters (the one schema validation, the HTTP catalog, the CLI
/// and the browser form are generated from), runs against a `RunContext` (clock, recorder,
/// cancellation through the current task), and returns its own figures and the checks it
/// computed from what it observed, never from its parameters alone.
public protocol Pattern: Sendable {
    /// kebab-case, unique in the catalog: `semaphore`, `producer-consumer`.
    var name: String { get }
    var title: String { get }
    var summary: String { get }
    /// The Python asyncio construct this pattern mirrors: `asyncio.Semaphore`.
    var asyncioEquivalent: String { get }
    /// The Swift construct used: `withTaskGroup` + an async semaphore.
    var swiftEquivalent: String { get }
    /// Where Swift's semantics differ from asyncio's; empty when they agree.
    var swiftNote: String { get }
    /// The invariants the run checks, as a person reads them.
    var invariants: [String] { get }
    /// The pattern-specific event names it emits, besides the common task and run events.
    var eventNames: [String] { get }
    /// The quantities it counts over time, carried by its events (see `CounterSpec`).
    var counters: [CounterSpec] { get }
    /// Why it cannot run on a virtual clock (`clock: virtual`), or nil when it can: every
    /// pattern that sleeps through its context's clock can. One that does real blocking
    /// work (a thread held for real time) cannot, and says why.
    var virtualClockRefusal: String? { get }

    func parameters(limits: PatternLimits) -> [ParameterSpec]
    /// Combinations that are each in range but impossible together (`fail_index >= count`).
    func crossCheck(_ parameters: ParameterSet) -> [FieldIssue]
    /// How long the run is planned to take on an ideal machine; bounded by the limits.
    func plannedDuration(_ parameters: ParameterSet) -> Duration
    func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome
}

extension Pattern {
    public var swiftNote: String { "" }
    public var eventNames: [String] { [] }
    public var counters: [CounterSpec] { [] }
    public var virtualClockRefusal: String? { nil }
    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] { [] }
}

/// What a pattern hands back: its own figures and the checks it computed.
public struct PatternOutcome: Sendable {
    public var result: [String: JSONValue]
    public var checks: [Check]

    public init(result: [String: JSONValue], checks: [Check]) {
        self.result = result
        self.checks = checks
    }
}
