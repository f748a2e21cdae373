import LabJSON

/// The patterns this build knows, under the limits it was started with.
public struct PatternCatalog: Sendable {
    public let limits: PatternLimits
    public let patterns: [any Pattern]

    public init(limits: PatternLimits = .defaults, patterns: [any Pattern] = PatternCatalog.builtIn) {
        self.limits = limits
        self.patterns = patterns
    }

    /// Every pattern of DESIGN.md section 4, in the order the catalog lists them.
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
    ]

    public func pattern(named name: String) -> (any Pattern)? {
        patterns.first { $0.name == name }
    }

    /// The parameters every pattern takes besides its own, validated here once for all.
    public static let commonParameters: [ParameterSpec] = [ClockMode.parameter]

    /// Everything `pattern` takes: its own parameters, then the common ones.
    public func parameters(of pattern: any Pattern) -> [ParameterSpec] {
        pattern.parameters(limits: limits) + Self.commonParameters
    }

    /// Validates raw input for `pattern`: each field against its spec, then the
    /// combinations, then the clock, then the planned duration against the limit of that
    /// clock (real time for `real`, simulated time for `virtual`).
    public func validate(
        _ raw: [String: RawParameter], for pattern: any Pattern
    ) -> Result<ParameterSet, ParameterValidationError> {
        let parameters: ParameterSet
        switch ParameterValidator.validate(raw, against: self.parameters(of: pattern)) {
        case .failure(let error): return .failure(error)
        case .success(let valid): parameters = valid
        }
        let issues = pattern.crossCheck(parameters)
        if !issues.isEmpty { return .failure(ParameterValidationError(issues: issues)) }
        if let issue = clockIssue(parameters, pattern) ?? durationIssue(parameters, pattern) {
            return .failure(ParameterValidationError(issues: [issue]))
        }
        return .success(parameters)
    }

    private func clockIssue(_ parameters: ParameterSet, _ pattern: any Pattern) -> FieldIssue? {
        guard parameters.clockMode == .virtual, let reason = pattern.virtualClockRefusal else { return nil }
        return FieldIssue(field: ClockMode.parameterName, message: "\(pattern.name) cannot run on a virtual clock: \(reason)")
    }

    private func durationIssue(_ parameters: ParameterSet, _ pattern: any Pattern) -> FieldIssue? {
        let planned = pattern.plannedDuration(parameters)
        let virtual = parameters.clockMode == .virtual
        let limit = virtual ? limits.maxVirtualDuration : limits.maxPlannedDuration
        guard planned > limit else { return nil }
        let seconds = limit.components.seconds
        let which = virtual ? "the virtual time limit" : "the limit"
        return FieldIssue(field: "params", message: "planned duration \(Int(planned.milliseconds)) ms exceeds \(which) of \(seconds) s")
    }

    /// One catalog entry as the API and the browser page show it.
    public func entry(_ pattern: any Pattern) -> JSONValue {
        [
            "name": .string(pattern.name), "title": .string(pattern.title), "summary": .string(pattern.summary),
            "asyncio": .string(pattern.asyncioEquivalent), "swift": .string(pattern.swiftEquivalent),
            "swift_note": .string(pattern.swiftNote),
            "parameters": .array(parameters(of: pattern).map(\.json)),
            "invariants": .array(pattern.invariants.map(JSONValue.string)),
            "events": .array(pattern.eventNames.map(JSONValue.string)),
            "counters": .array(pattern.counters.map(\.json)),
        ]
    }
}
