import Logging
@testable import MicroHTTP
import Synchronization
import TestSupport

/// A handler made of closures, so each test states its behaviour inline.
struct TestHandler: HTTPHandler {
    var immediate: @Sendable (Request) -> Response? = { _ in nil }
    var async: @Sendable (Request) async -> Response = { _ in .text("ok") }

    func handle(_ request: Request) -> Handling {
        immediate(request).map(Handling.now) ?? .later(async)
    }
}

/// Starts a server on 127.0.0.1, port 0, with test-sized limits; runs `body`; always shuts it
/// down (a test that fails must not leave MHD threads behind).
func withServer<T: Sendable>(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    handler: some HTTPHandler,
    _ body: (Server) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration()
    configuration.threadPoolSize = 2
    configuration.logger.logLevel = .warning
    configure(&configuration)
    let server = Server(configuration: configuration, handler: handler)
    try server.start()
    do {
        let result = try await body(server)
        await server.shutdown(deadline: .seconds(5))
        return result
    } catch {
        await server.shutdown(deadline: .seconds(5))
        throw error
    }
}

/// A gate tasks wait at until a test opens it. Waiting is cancellation-aware: a cancelled
/// waiter returns false at once, so a handler parked here still sees its deadline.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// True when the gate opened, false when the waiting task was cancelled.
    func wait() async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer: Bool? = state.withLock { state in
                    if state.isOpen { return true }
                    if Task.isCancelled { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }
}

/// Counts events and lets a test wait until a count is reached, instead of sleeping.
final class EventCounter: Sendable {
    private struct State {
        var count = 0
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.count } }

    func increment() {
        let ready = state.withLock { state in
            state.count += 1
            let count = state.count
            let ready = state.waiters.filter { $0.target <= count }
            state.waiters.removeAll { $0.target <= count }
            return ready.map(\.continuation)
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once at least `target` events happened.
    func wait(untilAtLeast target: Int) async {
        await withCheckedContinuation { continuation in
            let reached = state.withLock { state in
                if state.count >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }
}

/// A value a task sets once and another awaits.
final class Mailbox<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    func put(_ value: Value) {
        let waiters = state.withLock { state in
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    func take() async -> Value {
        await withCheckedContinuation { continuation in
            let value: Value? = state.withLock { state in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let value { continuation.resume(returning: value) }
        }
    }
}
