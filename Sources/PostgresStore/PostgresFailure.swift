import PostgresNIO
import Runs
import Synchronization

/// Turns whatever postgres-nio, NIO or the pool throw into a `RunStoreError` naming the store by
/// its redacted URL. Only the server's message, its SQLSTATE and the socket error are kept:
/// postgres-nio's own descriptions are either generic or carry the query.
enum PostgresFailure {
    /// A query or a transaction ran out of time: the server does not answer.
    struct TimedOut: Error, CustomStringConvertible {
        let after: Duration
        var description: String { "no answer within \(after)" }
    }

    static func classify(_ error: any Error, url: PostgresURL) -> RunStoreError {
        let path = url.redacted
        switch error {
        case let error as RunStoreError:
            return error
        case let error as PostgresTransactionError:
            let inner = error.beginError ?? error.closureError ?? error.commitError ?? error.rollbackError
            return inner.map { classify($0, url: url) } ?? RunStoreError(kind: .failed, path: path, detail: "transaction failed")
        case let error as PSQLError:
            return classify(error, path: path)
        case let error as TimedOut:
            return RunStoreError(kind: .unreachable, path: path, detail: error.description)
        // The pool's own errors (its circuit breaker tripped: no connection for a while) are of a
        // type postgres-nio does not export.
        case _ where String(describing: type(of: error)) == "ConnectionPoolError":
            return RunStoreError(kind: .unreachable, path: path, detail: "no connection to the database: \(error)")
        default:
            return RunStoreError(kind: .failed, path: path, detail: String(describing: error))
        }
    }

    private static func classify(_ error: PSQLError, path: String) -> RunStoreError {
        if let server = error.serverInfo {
            let state = server[.sqlState] ?? "?????"
            let detail = "\(server[.message] ?? "server error"), SQLSTATE \(state)"
            // 28: authorization; 3D000: no such database; 08: connection; 57P: shutting down or starting.
            let kind: RunStoreError.Kind =
                if state.hasPrefix("28") { .refused } else if state == "3D000" { .cannotOpen } else if state.hasPrefix("08") || state.hasPrefix("57P") {
                    .unreachable
                } else { .failed }
            return RunStoreError(kind: kind, path: path, detail: detail)
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .queryCancelled:
            let cause = error.underlying.map { String(describing: $0) } ?? error.code.description
            return RunStoreError(kind: .unreachable, path: path, detail: cause)
        case .sslUnsupported:
            return RunStoreError(kind: .cannotOpen, path: path, detail: "the server does not offer TLS (sslmode=require)")
        case .authMechanismRequiresPassword:
            return RunStoreError(kind: .refused, path: path, detail: "the server asks for a password and the URL has none")
        default:
            return RunStoreError(kind: .failed, path: path, detail: error.code.description)
        }
    }

    /// Whether the error means the database is out of reach (rather than a bad statement).
    static func isUnreachable(_ error: RunStoreError) -> Bool {
        error.kind == .unreachable
    }
}

/// Runs `operation`, throwing `PostgresFailure.TimedOut` when it takes longer than `limit`:
/// the pool queues a request while it cannot connect (up to a minute before its circuit breaker
/// trips), and a read or a write must fail long before that.
///
/// At the deadline the operation is cancelled and abandoned, not awaited: a transaction whose
/// server was restarted under it can ignore cancellation and never end (seen with postgres-nio
/// 1.33.2: the writer's `withTransaction` begun as PostgreSQL stopped hung for good, and a
/// deadline made of a task group, which waits for every child, hung with it, so that
/// instance wrote nothing more until it was stopped). An abandoned write may still commit
/// later; the store's writes are idempotent for that (events `ON CONFLICT DO NOTHING`, a run's
/// row fenced by its owner and status). A value that arrives after the deadline goes to
/// `dispose` (a connection must be closed).
///
/// The deadline is a sleeping task on the same pool as the operation (`sleep`, injected by
/// tests): a process whose pool is starved delays both alike, where a timer thread would fail
/// operations the pool never had a thread to run.
func withDeadline<T: Sendable>(
    _ limit: Duration,
    sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
    dispose: @escaping @Sendable (T) -> Void = { _ in },
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>(dispose: dispose)
    let work = Task {
        do {
            race.settle(.success(try await operation()))
        } catch {
            race.settle(.failure(error))
        }
    }
    let deadline = Task {
        do {
            try await sleep(limit)
        } catch {
            return  // cancelled: the race is over
        }
        race.settle(.failure(PostgresFailure.TimedOut(after: limit)))
    }
    defer {
        deadline.cancel()
        work.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { race.wait($0) }
    } onCancel: {
        race.settle(.failure(CancellationError()))
    }
}

/// The first of the operation's end, the deadline and the caller's cancellation: it alone
/// resumes the waiter, once, whether it came before the waiter or after. A value that loses
/// the race is disposed of.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var outcome: Result<T, any Error>?
        var waiter: CheckedContinuation<T, any Error>?
    }

    private let state = Mutex(State())
    private let dispose: @Sendable (T) -> Void

    init(dispose: @escaping @Sendable (T) -> Void) {
        self.dispose = dispose
    }

    func settle(_ outcome: Result<T, any Error>) {
        let (won, waiter) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?) in
            guard state.outcome == nil else { return (false, nil) }
            state.outcome = outcome
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        guard won else {
            if case .success(let late) = outcome { dispose(late) }
            return
        }
        waiter?.resume(with: outcome)
    }

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let settled = state.withLock { state -> Result<T, any Error>? in
            if state.outcome == nil { state.waiter = continuation }
            return state.outcome
        }
        if let settled { continuation.resume(with: settled) }
    }
}
