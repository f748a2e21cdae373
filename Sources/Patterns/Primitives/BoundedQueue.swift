import Synchronization

/// A FIFO queue of at most `capacity` elements between tasks (asyncio's `Queue(maxsize)`):
/// `put` suspends while the queue is full (back-pressure), `get` suspends while it is empty.
/// Waiting putters and getters are each served first come, first served.
///
/// End of stream: `finish()` says no more puts will come. Getters then drain what is left
/// and receive `nil` (the sentinel asyncio code passes by hand); a put after `finish`
/// throws `BoundedQueueFinished`.
///
/// Cancellation: a cancelled `put` leaves the queue without inserting its element and
/// throws `CancellationError`; a cancelled `get` leaves without taking one. An element is
/// never lost or delivered twice: a getter resumed with an element before its cancellation
/// arrived returns that element.
///
/// The state is one `Mutex` around a `Deque` and two waiter queues; every transition
/// decides under the lock and resumes continuations after it (see
/// `BoundedQueueStateMachine`). The fast paths take the lock once and never allocate.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private let state: Mutex<BoundedQueueStateMachine<Element>>

    public init(capacity: Int) {
        state = Mutex(BoundedQueueStateMachine(capacity: capacity))
    }

    public var capacity: Int { state.withLock { $0.capacity } }
    /// Elements buffered right now.
    public var count: Int { state.withLock { $0.buffer.count } }
    /// The most elements the buffer ever held: never more than `capacity`.
    public var peakCount: Int { state.withLock { $0.peakCount } }
    /// How many puts found the queue full and had to wait.
    public var suspendedPuts: Int { state.withLock { $0.suspendedPuts } }
    public var waitingPutters: Int { state.withLock { $0.putters.count } }
    public var waitingGetters: Int { state.withLock { $0.getters.count } }

    /// Outcome of a put that does not wait.
    public enum TryPutResult: Sendable, Equatable {
        /// Stored; the buffer's size right after (0 when handed straight to a waiting getter).
        case enqueued(size: Int)
        case full
        case finished
    }

    /// Puts `element` if there is room now, without waiting.
    public func tryPut(_ element: Element) -> TryPutResult {
        switch state.withLock({ $0.put(element) }) {
        case .done(let size, let handOff):
            handOff?.resume(returning: element)
            return .enqueued(size: size)
        case .full: return .full
        case .finished: return .finished
        }
    }

    /// Puts `element`, suspending while the queue is full. Returns the buffer's size right
    /// after the element went in (0 when a waiting getter took it directly).
    @discardableResult
    public func put(_ element: Element) async throws -> Int {
        try Task.checkCancellation()
        switch tryPut(element) {
        case .enqueued(let size): return size
        case .finished: throw BoundedQueueFinished()
        case .full: return try await suspendingPut(element)
        }
    }

    private func suspendingPut(_ element: Element) async throws -> Int {
        let id = state.withLock { $0.makeID() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                let action = state.withLock {
                    $0.suspendPut(id, element, continuation, cancelled: Task.isCancelled)
                }
                if case .resume(let result, let handOff) = action {
                    handOff?.resume(returning: element)
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            state.withLock { $0.cancelPutter(id) }?.resume(throwing: CancellationError())
        }
    }

    /// Takes the oldest element, suspending while the queue is empty. Returns nil once the
    /// queue is finished and drained.
    public func get() async throws -> Element? {
        try Task.checkCancellation()
        switch tryGet() {
        case .element(let element): return element
        case .finished: return nil
        case .empty: break
        }
        let id = state.withLock { $0.makeID() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Element?, any Error>) in
                let action = state.withLock {
                    $0.suspendGet(id, continuation, cancelled: Task.isCancelled)
                }
                switch action {
                case nil: continuation.resume(throwing: CancellationError())
                case .element(let element, let admitted)?:
                    if let admitted { admitted.putter.resume(returning: admitted.size) }
                    continuation.resume(returning: element)
                case .empty?: break
                }
            }
        } onCancel: {
            state.withLock { $0.cancelGetter(id) }?.resume(throwing: CancellationError())
        }
    }

    /// Outcome of a get that does not wait.
    public enum TryGetResult {
        case element(Element)
        case empty
        /// Finished and drained: no element will ever come.
        case finished
    }

    /// Takes the oldest element if there is one, without waiting.
    public func tryGet() -> TryGetResult {
        switch state.withLock({ $0.get() }) {
        case .element(let element, let admitted):
            if let admitted { admitted.putter.resume(returning: admitted.size) }
            return element.map(TryGetResult.element) ?? .finished
        case .empty:
            return .empty
        }
    }

    /// No more puts: getters drain what is buffered (and what waiting putters still hold),
    /// then receive nil.
    public func finish() {
        for getter in state.withLock({ $0.finish() }) { getter.resume(returning: nil) }
    }
}
