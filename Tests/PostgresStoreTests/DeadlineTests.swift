import Patterns
@testable import PostgresStore
import Synchronization
import Testing

/// `withDeadline` with the deadline's sleep on a `TimerQueue` with no thread, fired by hand, so no
/// test depends on how fast this machine is.
@Suite struct DeadlineTests {
    /// A transaction whose server went away can ignore cancellation and never end. The deadline
    /// must still answer, abandoning it: a deadline that waits for the operation's end (a task
    /// group does) never returns, and `settled` fails the test.
    @Test(.timeLimit(.minutes(1)))
    func anOperationThatIgnoresCancellation_isAbandonedAtTheDeadline_andItsLateValueDisposedOf() async throws {
        let disposed = Disposed()
        let (timers, gate, caller) = try await started(dispose: disposed.take)
        for _ in 0..<100_000 where !gate.isWaiting {
            await Task.yield()
        }
        try #require(gate.isWaiting)
        timers.fireDue(now: .now + .seconds(6))
        let outcome = try await settled(caller)
        #expect(throws: PostgresFailure.TimedOut.self) { try outcome.get() }
        #expect(gate.isWaiting, "the operation was abandoned, not ended")
        // The operation ends after all (a connection made late): its value is not dropped unseen.
        gate.open(with: 42)
        for _ in 0..<100_000 where disposed.values.isEmpty {
            await Task.yield()
        }
        #expect(disposed.values == [42])
    }

    @Test(.timeLimit(.minutes(1)))
    func anOperationThatEndsFirst_givesItsValue_andItsTimerIsCancelled() async throws {
        let (timers, gate, caller) = try await started()
        gate.open(with: 7)
        #expect(try await settled(caller).get() == 7)
        #expect(timers.count == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingTheCaller_endsItsWait_atOnce() async throws {
        let (_, gate, caller) = try await started()
        defer { gate.open(with: 1) }
        caller.task.cancel()
        let outcome = try await settled(caller)
        #expect(throws: CancellationError.self) { try outcome.get() }
    }

    /// The caller's outcome, once it has one. Asked a bounded number of times rather than
    /// awaited: a deadline that waits for its operation would hang the test run, not fail it.
    private func settled(_ caller: Caller) async throws -> Result<Int, any Error> {
        for _ in 0..<100_000 where caller.outcome == nil {
            await Task.yield()
        }
        return try #require(caller.outcome, "withDeadline did not return")
    }

    /// A caller of a 5 s `withDeadline` around a gated operation, once its deadline is asleep on
    /// a timer queue the test fires by hand.
    private func started(
        dispose: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> (TimerQueue, Gate, Caller) {
        let timers = TimerQueue()
        let gate = Gate()
        let caller = Caller {
            try await withDeadline(
                .seconds(5), sleep: { limit in try await timers.sleep(until: .now + limit) }, dispose: dispose
            ) { await gate.wait() }
        }
        for _ in 0..<100_000 where timers.count == 0 {
            await Task.yield()
        }
        try #require(timers.count == 1)
        return (timers, gate, caller)
    }
}

/// A task calling `withDeadline`, and what the call gave once it returned.
private final class Caller: Sendable {
    private final class Outcome: Sendable {
        let result = Mutex<Result<Int, any Error>?>(nil)
    }

    private let box: Outcome
    let task: Task<Void, Never>

    init(_ body: @escaping @Sendable () async throws -> Int) {
        let box = Outcome()
        self.box = box
        task = Task {
            do {
                let value = try await body()
                box.result.withLock { $0 = .success(value) }
            } catch {
                box.result.withLock { $0 = .failure(error) }
            }
        }
    }

    var outcome: Result<Int, any Error>? { box.result.withLock { $0 } }
}

/// The values `withDeadline` handed to `dispose`.
private final class Disposed: Sendable {
    private let taken = Mutex<[Int]>([])

    var take: @Sendable (Int) -> Void { { [self] value in taken.withLock { $0.append(value) } } }
    var values: [Int] { taken.withLock { $0 } }
}

/// An operation that ends only when opened, whatever cancellation says.
private final class Gate: Sendable {
    private let state = Mutex<(waiter: CheckedContinuation<Int, Never>?, value: Int?)>((nil, nil))

    func wait() async -> Int {
        await withCheckedContinuation { continuation in
            let value = state.withLock { state -> Int? in
                if state.value == nil { state.waiter = continuation }
                return state.value
            }
            if let value { continuation.resume(returning: value) }
        }
    }

    var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    func open(with value: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, Never>? in
            state.value = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: value)
    }
}
