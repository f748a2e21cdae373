/// The clock a run keeps, chosen by the `clock` parameter every pattern takes (the catalog
/// adds it to each pattern's own; patterns do not declare it).
///
/// - `real`: the run sleeps on the machine's clock, on the server's run threads, and takes
///   as long as its delays say.
/// - `virtual`: the run executes on one thread of its own with an autojump clock
///   (`VirtualRun`): whenever every task waits on the clock, time jumps to the earliest
///   deadline. It finishes as fast as the machine runs its code, and the same parameters
///   give the same events, figures, checks and timeline every time.
public enum ClockMode: String, Sendable, CaseIterable {
    case real
    case virtual

    public static let parameterName = "clock"

    /// The parameter's spec, as every catalog entry lists it.
    public static let parameter = ParameterSpec.choice(
        parameterName, default: ClockMode.real.rawValue, choices: allCases.map(\.rawValue),
        "real: sleeps take real time. virtual: one thread, and time jumps to the next deadline whenever every task waits, so the run is instant and the same every time.")
}

extension ParameterSet {
    /// The run's clock (`real` when the set was not validated by a catalog).
    public var clockMode: ClockMode {
        guard case .string(let name)? = values[ClockMode.parameterName] else { return .real }
        return ClockMode(rawValue: name) ?? .real
    }
}
