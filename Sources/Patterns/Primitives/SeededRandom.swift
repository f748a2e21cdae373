/// SplitMix64: a small, fast generator whose sequence is fixed by its seed, so a run with
/// the same `seed` draws the same jitter and failures everywhere (CLI, server, tests).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: Int) {
        state = UInt64(bitPattern: Int64(seed))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The jitter of task `index`: a value in 0...maxJitter that depends only on the seed
    /// and the index, so tasks need not share a generator.
    public static func jitter(seed: Int, index: Int, maxJitter: Int) -> Int {
        guard maxJitter > 0 else { return 0 }
        var generator = SeededRandom(seed: seed &* 1_000_003 &+ index)
        return Int.random(in: 0...maxJitter, using: &generator)
    }
}
