/// The tasks suspended on a condition, kept inside a lock-protected state (`EventLog`,
/// `OneShotSignal`), with the one cancellation-safe way to wait on it.
///
/// Invariant: every waiter is resumed exactly once — by whoever takes it from the set (the
/// condition came true, or its task was cancelled), or at once when it registers after its
/// cancellation already ran (`cancelledEarly`) or when the condition already holds.
struct WaiterSet {
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var cancelledEarly: Set<UInt64> = []
    private var nextID: UInt64 = 0

    mutating func makeID() -> UInt64 {
        nextID += 1
        return nextID
    }

    /// Keeps `continuation` unless its task was cancelled first; false: resume it now.
    mutating func register(_ id: UInt64, _ continuation: CheckedContinuation<Void, Never>) -> Bool {
        guard cancelledEarly.remove(id) == nil else { return false }
        waiters[id] = continuation
        return true
    }

    /// The waiter to resume for a cancelled task, or nil (then it has not registered yet).
    mutating func cancel(_ id: UInt64) -> CheckedContinuation<Void, Never>? {
        if let waiter = waiters.removeValue(forKey: id) { return waiter }
        cancelledEarly.insert(id)
        return nil
    }

    /// The waiter `id` if it is registered (nil otherwise, and nothing is remembered).
    mutating func remove(_ id: UInt64) -> CheckedContinuation<Void, Never>? {
        waiters.removeValue(forKey: id)
    }

    mutating func forget(_ id: UInt64) {
        cancelledEarly.remove(id)
    }

    mutating func takeAll() -> [CheckedContinuation<Void, Never>] {
        defer { waiters.removeAll(keepingCapacity: true) }
        return Array(waiters.values)
    }

    /// Suspends until the waiter is resumed or the task is cancelled. `register` runs under
    /// the caller's lock: it returns false when the condition already holds (or the waiter
    /// was cancelled first), else keeps the continuation; `cancel` and `forget` take the
    /// lock to call the methods of the same names.
    static func wait(
        id: UInt64,
        register: (CheckedContinuation<Void, Never>) -> Bool,
        cancel: @Sendable () -> CheckedContinuation<Void, Never>?,
        forget: () -> Void
    ) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if !register(continuation) { continuation.resume() }
            }
        } onCancel: {
            cancel()?.resume()
        }
        forget()
    }
}
