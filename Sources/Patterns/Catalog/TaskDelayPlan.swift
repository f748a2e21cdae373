/// Each task's delay: the list given (`delays_ms`), or `count` tasks of `delay_ms` plus a
/// jitter up to `jitter_ms` drawn from `seed`. For patterns that race or collect tasks of
/// different lengths.
struct TaskDelayPlan: Sendable {
    let delays: [Int]
    var count: Int { delays.count }

    init(_ parameters: ParameterSet) {
        if let listed = parameters.intList("delays_ms") {
            delays = listed
            return
        }
        let base = parameters.int("delay_ms")
        let jitter = parameters.int("jitter_ms")
        let seed = parameters.int("seed")
        delays = (0..<parameters.int("count")).map { base + SeededRandom.jitter(seed: seed, index: $0, maxJitter: jitter) }
    }

    /// The parameters that describe the plan, with these defaults.
    static func parameters(limits: PatternLimits, count: Int, delayMs: Int, jitterMs: Int) -> [ParameterSpec] {
        [
            .integerList(
                "delays_ms", default: nil, min: 0, max: limits.maxDelayMs, maxItems: min(1_000, limits.maxCount),
                "Each task's delay; replaces count, delay_ms and jitter_ms."),
            .integer("count", default: count, min: 1, max: limits.maxCount, "How many tasks."),
            .integer("delay_ms", default: delayMs, min: 0, max: limits.maxDelayMs, "Every task's base delay."),
            .integer("jitter_ms", default: jitterMs, min: 0, max: limits.maxDelayMs, "Up to this much extra delay per task, drawn from the seed."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
        ]
    }
}
