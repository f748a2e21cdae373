import Patterns
import PostgresNIO
import Runs
import Synchronization

/// The store's connection pool (a `PostgresClient`), replaced by a fresh one when the database
/// comes back after an outage.
///
/// The pool retries a failed connection with a backoff that grows to a minute, and once its
/// circuit breaker has tripped it fails every request until its next attempt: after a long
/// outage it would lag the database's return by up to a minute. The listener, which reconnects
/// on its own backoff of at most two seconds, knows sooner; it calls `replace()`, and every
/// later query goes to a new pool. Each pool runs as a child task of `run()` until it is
/// replaced (its queries in flight then fail, and are retried or answered 503).
final class PostgresClients: Sendable {
    private struct Generation: Sendable {
        let client: PostgresClient
        let retired = OneShotSignal()
    }

    private struct State {
        var current: Generation
        var launches: AsyncStream<Generation>.Continuation?
    }

    private let make: @Sendable () -> PostgresClient
    private let state: Mutex<State>
    private let launches: AsyncStream<Generation>

    init(make: @escaping @Sendable () -> PostgresClient) {
        self.make = make
        let first = Generation(client: make())
        let (launches, continuation) = AsyncStream.makeStream(of: Generation.self)
        continuation.yield(first)
        self.launches = launches
        state = Mutex(State(current: first, launches: continuation))
    }

    /// The pool to query now.
    var current: PostgresClient { state.withLock { $0.current.client } }

    /// Retires the current pool for a new one (when the database is back after an outage).
    func replace() {
        let fresh = Generation(client: make())
        let retired = state.withLock { state -> Generation? in
            guard let launches = state.launches else { return nil }
            let old = state.current
            state.current = fresh
            launches.yield(fresh)
            return old
        }
        retired?.retired.fire()
    }

    /// Runs each pool until it is retired; returns once `stop()` retired the last one.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await generation in launches {
                group.addTask {
                    await withTaskGroup(of: Void.self) { pool in
                        pool.addTask { await generation.client.run() }
                        await generation.retired.wait()
                        pool.cancelAll()
                    }
                }
            }
        }
    }

    /// Retires the pool for good: `run()` returns once it has shut down.
    func stop() {
        let last = state.withLock { state -> Generation in
            state.launches?.finish()
            state.launches = nil
            return state.current
        }
        last.retired.fire()
    }
}
