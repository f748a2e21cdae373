import CConcurrencyHooks

/// Starts the dedicated OS threads that blocking work is offloaded to (the Swift side of
/// `loop.run_in_executor`): real threads, outside the cooperative pool, so a blocked call
/// holds one of them and never one of the pool's.
///
/// A run's context carries one. Production starts a detached pthread per call; a test can
/// wrap the launch to account for the threads it starts (so a driver on a virtual clock
/// knows when every thread has parked or ended).
public struct ThreadLauncher: Sendable {
    private let start: @Sendable (@escaping @Sendable () -> Void) throws -> Void

    /// `start` runs `body` on a new thread, or throws when no thread could be started.
    public init(_ start: @escaping @Sendable (@escaping @Sendable () -> Void) throws -> Void) {
        self.start = start
    }

    /// Runs `body` on a new thread and returns at once.
    public func launch(_ body: @escaping @Sendable () -> Void) throws {
        try start(body)
    }

    /// One detached pthread per call, with the system's default stack.
    public static var pthreads: ThreadLauncher {
        ThreadLauncher { body in try startDetachedThread(body) }
    }

    /// Names the calling thread: what `top -H`, `perf report --sort comm` and
    /// /proc/PID/task/TID/comm show (15 bytes are kept). The engine's threads call it first
    /// thing: a run's are "lab-run", the timer's "lab-timer", a virtual run's "lab-virtual",
    /// one that `run` starts for a blocking call "lab-offload".
    public static func nameCurrentThread(_ name: String) {
        lab_set_current_thread_name(name)
    }

    /// Runs `body` on a thread of its own and suspends the calling task until it returns.
    /// The thread cannot be interrupted: a cancelled caller still waits for it, so no thread
    /// outlives the task that started it.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            do {
                try launch {
                    Self.nameCurrentThread("lab-offload")
                    continuation.resume(returning: body())
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// The system refused a new thread (`pthread_create` failed with `code`).
public struct ThreadLaunchError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public var description: String { "could not start a thread (pthread_create error \(code))" }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private func startDetachedThread(_ body: @escaping @Sendable () -> Void) throws {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let code = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    guard code == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        throw ThreadLaunchError(code: code)
    }
    pthread_detach(thread)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
