/// The bounds on every user-controlled number of a run (DESIGN.md section 5). Each is a
/// `serve` flag; the parameter specs' maximums are computed from these.
public struct PatternLimits: Sendable, Hashable {
    /// Most tasks or items in a run (gather has its own, larger bound).
    public var maxCount: Int
    public var maxGatherCount: Int
    public var maxDelayMs: Int
    /// A run on the real clock whose planned duration exceeds this is refused.
    public var maxPlannedDuration: Duration
    /// The same for a run on the virtual clock, whose time is simulated: its real time is
    /// bounded by `maxPlannedDuration` instead (the run is stopped past it).
    public var maxVirtualDuration: Duration
    /// Per-task spans (and per-task events) kept; aggregates still count every task.
    public var spanCap: Int

    public init(
        maxCount: Int = 100_000, maxGatherCount: Int = 1_000_000, maxDelayMs: Int = 60_000,
        maxPlannedDuration: Duration = .seconds(300), maxVirtualDuration: Duration = .seconds(86_400),
        spanCap: Int = 10_000
    ) {
        self.maxCount = maxCount
        self.maxGatherCount = maxGatherCount
        self.maxDelayMs = maxDelayMs
        self.maxPlannedDuration = maxPlannedDuration
        self.maxVirtualDuration = maxVirtualDuration
        self.spanCap = spanCap
    }

    public static let defaults = PatternLimits()
}
