import Patterns

extension VirtualClock {
    /// Waits until at least `count` tasks sleep on this clock (see `waitUntil`), for tests
    /// that drive the clock by hand, with no executor jumping it.
    public func waitForSleepers(_ count: Int, maxTurns: Int = 50_000) async throws {
        try await waitUntil("\(count) sleepers", maxTurns: maxTurns) { sleeperCount >= count }
    }
}
