/// The patterns this build knows, under the limits it was started with.
public struct PatternCatalog: Sendable {
    public let limits: PatternLimits
    public let patterns: [any Pattern]

    public init(limits: PatternLimits = .defaults, patterns: [any Pattern] = PatternCatalog.builtIn) {
        self.limits = limits
        self.patterns = patterns
    }

    /// Every pattern of DESIGN.md sections 4 and 4b, in the order the catalog lists them.
    public static let builtIn: [any Pattern] = [
        GatherPattern(),
        TaskGroupPattern(),
        TimeoutPattern(),
        SemaphorePattern(),
        ProducerConsumerPattern(),
        GatherErrorsPattern(),
        EventPattern(),
        LockPattern(),
        PeriodicPattern(),
        FirstCompletedPattern(),
        ResourceScopePattern(),
        BlockingOffloadPattern(),
        AsCompletedPattern(),
        ShieldPattern(),
        ConditionPattern(),
        BarrierPattern(),
        WaitPattern(),
        PipelinePattern(),
    ]

    public func pattern(named name: String) -> (any Pattern)? {
        patterns.first { $0.name == name }
    }

    /// Validates raw input for `pattern`: each field against its spec, then the
    /// combinations, then the planned duration against the limit.
    public func validate(
        _ raw: [String: RawParameter], for pattern: any Pattern
    ) -> Result<ParameterSet, ParameterValidationError> {
        let specs = pattern.parameters(limits: limits)
        let parameters: ParameterSet
        switch ParameterValidator.validate(raw, against: specs) {
        case .failure(let error): return .failure(error)
        case .success(let valid): parameters = valid
        }
        let issues = pattern.crossCheck(parameters)
        if !issues.isEmpty { return .failure(ParameterValidationError(issues: issues)) }
        let planned = pattern.plannedDuration(parameters)
        if planned > limits.maxPlannedDuration {
            let seconds = Int(limits.maxPlannedDuration.components.seconds)
            let message = "planned duration \(Int(planned.milliseconds)) ms exceeds the limit of \(seconds) s"
            return .failure(ParameterValidationError(issues: [FieldIssue(field: "params", message: message)]))
        }
        return .success(parameters)
    }

    /// One catalog entry as the API and the browser page show it.
    public func entry(_ pattern: any Pattern) -> JSONValue {
        [
            "name": .string(pattern.name), "title": .string(pattern.title), "summary": .string(pattern.summary),
            "asyncio": .string(pattern.asyncioEquivalent), "swift": .string(pattern.swiftEquivalent),
            "swift_note": .string(pattern.swiftNote),
            "parameters": .array(pattern.parameters(limits: limits).map(\.json)),
            "invariants": .array(pattern.invariants.map(JSONValue.string)),
            "events": .array(pattern.eventNames.map(JSONValue.string)),
            "counters": .array(pattern.counters.map(\.json)),
        ]
    }
}
