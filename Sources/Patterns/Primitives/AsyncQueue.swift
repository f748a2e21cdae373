import Synchronization

/// A queue between tasks with asyncio's observable semantics (`asyncio.Queue`,
/// `LifoQueue`, `PriorityQueue`):
///
/// - `maxsize` 0 is unbounded; otherwise `put` waits while `count == maxsize`.
/// - `put` always enqueues: an item put while a getter waits stays in the queue, and in
///   `count` (asyncio's `qsize()`), until that getter runs and takes it. Waking a waiter
///   hands it nothing; it looks again, and may find that another caller got there first
///   (then it waits again, at the back, as in asyncio).
/// - `taskDone()` and `join()`: every put counts as unfinished until a `taskDone()`; `join`
///   returns once the count is zero. A `taskDone()` beyond the puts throws and leaves the
///   count at zero (asyncio's ValueError).
/// - `shutdown()` (asyncio 3.13's `Queue.shutdown()`): puts fail with `QueueShutDown`;
///   getters drain what is left, then receive nil (asyncio raises QueueShutDown there; nil
///   is the sentinel an asyncio producer would have put by hand).
///
/// The async operations are `nonisolated(nonsending)`: they run on their caller's executor.
/// Called from tasks isolated to one actor (see `EventLoop`), the item a woken getter takes
/// is taken in its turn on that actor, as on asyncio's single thread.
///
/// Cancellation: a cancelled waiter leaves without putting or taking anything and throws
/// `CancellationError`; one that had already been woken passes the wake-up to the next
/// waiter of its kind, so no item and no free slot is stranded.
///
/// State: one `Mutex` around `AsyncQueueState`; continuations are resumed after the lock.
public final class AsyncQueue<Element: Sendable>: Sendable {
    private let state: Mutex<AsyncQueueState<Element>>

    public init(maxsize: Int = 0, discipline: QueueDiscipline = .fifo) {
        state = Mutex(AsyncQueueState(maxsize: maxsize, discipline: discipline))
    }

    /// The bound; 0 for none.
    public var maxsize: Int { state.withLock { $0.maxsize } }
    /// Items in the queue right now (asyncio's `qsize()`).
    public var count: Int { state.withLock { $0.storage.count } }
    /// The most items the queue ever held.
    public var peakCount: Int { state.withLock { $0.peakCount } }
    /// Items put and not yet marked done.
    public var unfinishedTasks: Int { state.withLock { $0.unfinished } }
    /// Puts that found the queue full and waited.
    public var suspendedPuts: Int { state.withLock { $0.suspendedPuts } }
    public var waitingGetters: Int { state.withLock { $0.waitingGetters } }
    public var waitingPutters: Int { state.withLock { $0.waitingPutters } }

    /// Outcome of a put that does not wait (`put_nowait`).
    public enum PutResult: Sendable, Equatable {
        /// In the queue; its size right after.
        case inserted(size: Int)
        case full
        case shutDown
    }

    /// Puts `element` if there is room now. `priority` orders a priority queue (lowest first).
    public func tryPut(_ element: Element, priority: Int = 0) -> PutResult {
        switch state.withLock({ $0.put(element, priority: priority) }) {
        case .inserted(let size, let wake):
            wake?.resume()
            return .inserted(size: size)
        case .full: return .full
        case .shutDown: return .shutDown
        }
    }

    /// Puts `element`, waiting while the queue is full. Returns the queue's size right after.
    @discardableResult
    nonisolated(nonsending) public func put(_ element: Element, priority: Int = 0) async throws -> Int {
        try Task.checkCancellation()
        var waited = false
        while true {
            switch tryPut(element, priority: priority) {
            case .inserted(let size): return size
            case .shutDown: throw QueueShutDown()
            case .full:
                if !waited {
                    waited = true
                    state.withLock { $0.suspendedPuts += 1 }
                }
                try await suspend(.room)
            }
        }
    }

    /// Outcome of a get that does not wait (`get_nowait`).
    public enum GetResult {
        /// The item and the queue's size right after it left.
        case item(Element, size: Int)
        case empty
        /// Shut down and drained: no item will ever come.
        case shutDown
    }

    public func tryGet() -> GetResult {
        switch state.withLock({ $0.get() }) {
        case .took(let element, let size, let wake):
            wake?.resume()
            return .item(element, size: size)
        case .empty: return .empty
        case .shutDown: return .shutDown
        }
    }

    /// Takes the next item, waiting while the queue is empty; with the queue's size right
    /// after. nil once the queue is shut down and drained.
    nonisolated(nonsending) public func get() async throws -> (element: Element, size: Int)? {
        try Task.checkCancellation()
        while true {
            switch tryGet() {
            case .item(let element, let size): return (element, size)
            case .shutDown: return nil
            case .empty: try await suspend(.item)
            }
        }
    }

    /// Marks one item done; returns the unfinished count left. Throws `QueueTaskDoneTooOften`
    /// when every item put was already marked done.
    @discardableResult
    public func taskDone() throws -> Int {
        guard let (left, joiners) = state.withLock({ $0.taskDone() }) else { throw QueueTaskDoneTooOften() }
        for joiner in joiners { joiner.resume() }
        return left
    }

    /// Waits until every item put has been marked done.
    nonisolated(nonsending) public func join() async throws {
        try Task.checkCancellation()
        try await suspend(.join)
    }

    /// No more puts; getters drain what is left, then receive nil.
    public func shutdown() {
        for waiter in state.withLock({ $0.shutdown() }) { waiter.resume() }
    }

    /// Waits until woken (or at once if there is no reason to wait anymore). A waiter
    /// cancelled after it was woken passes the wake-up on before it throws.
    nonisolated(nonsending) private func suspend(_ kind: AsyncQueueState<Element>.WaitKind) async throws {
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (waiter: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    return state.register(kind, id, waiter) ? nil : .success(())
                }
                if let outcome { waiter.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.remove(kind, id) }?.resume(throwing: CancellationError())
        }
        if Task.isCancelled {
            state.withLock { $0.passOnWakeup(kind) }?.resume()
            throw CancellationError()
        }
    }
}

/// Thrown by a put into a queue that was shut down.
public struct QueueShutDown: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "put into a queue that was shut down" }
}

/// Thrown by a `taskDone()` with no unfinished item left (asyncio: "task_done() called too
/// many times").
public struct QueueTaskDoneTooOften: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "task_done() called more times than items were put" }
}
