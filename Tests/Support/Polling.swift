/// Waits until `condition` holds, yielding between looks, for primitives tested on the
/// shared pool where no driver knows when others have run. Fails the caller after
/// `maxTurns` looks instead of hanging; past the first thousand it also naps 100 µs a turn,
/// so a thread preempted on a busy machine gets the core back. A bound, not a delay: the
/// condition is what the test waits for.
public func waitUntil(
    _ description: @autoclosure () -> String = "condition", maxTurns: Int = 50_000,
    _ condition: () -> Bool
) async throws {
    for turn in 0..<maxTurns {
        if condition() { return }
        await Task.yield()
        if turn > 1_000 { usleep(100) }
    }
    throw PollingTimeout(description: description())
}

public struct PollingTimeout: Error, CustomStringConvertible {
    public let description: String
}

#if canImport(Glibc)
import Glibc
#endif
