import DequeModule

/// The state of a `BoundedQueue`, as transitions that return what to do once the lock is
/// released (resume whom, with what). No continuation is ever resumed under the lock, and
/// each waiter is resumed exactly once: by a transition that removes it from its queue.
struct BoundedQueueStateMachine<Element: Sendable> {
    typealias Getter = UnsafeContinuation<Element?, any Error>
    typealias Putter = UnsafeContinuation<Int, any Error>

    let capacity: Int
    private(set) var buffer: Deque<Element> = []
    private(set) var getters = WaiterQueue<Getter>()
    private(set) var putters = WaiterQueue<(element: Element, continuation: Putter)>()
    private(set) var isFinished = false
    /// The largest number of elements the buffer ever held.
    private(set) var peakCount = 0
    /// Puts that found the queue full and suspended.
    private(set) var suspendedPuts = 0
    private var lastID: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity >= 1, "a bounded queue needs room for at least one element")
        self.capacity = capacity
        buffer.reserveCapacity(min(capacity, 4096))
    }

    enum PutAction {
        /// Stored, or handed to a waiting getter (the buffer then stays empty).
        case done(size: Int, handOff: Getter?)
        case full
        case finished
    }

    /// A put that does not wait: stores the element if there is room.
    mutating func put(_ element: Element) -> PutAction {
        if isFinished { return .finished }
        if let getter = getters.popFirst() {
            return .done(size: buffer.count, handOff: getter)
        }
        guard buffer.count < capacity else { return .full }
        buffer.append(element)
        peakCount = max(peakCount, buffer.count)
        return .done(size: buffer.count, handOff: nil)
    }

    enum SuspendAction {
        case resume(Result<Int, any Error>, handOff: Getter?)
        case suspended
    }

    /// The slow path of a put, under the same lock as its decision to wait.
    mutating func suspendPut(_ id: UInt64, _ element: Element, _ continuation: Putter, cancelled: Bool) -> SuspendAction {
        if cancelled { return .resume(.failure(CancellationError()), handOff: nil) }
        switch put(element) {
        case .done(let size, let handOff): return .resume(.success(size), handOff: handOff)
        case .finished: return .resume(.failure(BoundedQueueFinished()), handOff: nil)
        case .full:
            suspendedPuts += 1
            putters.append(id, (element, continuation))
            return .suspended
        }
    }

    enum GetAction {
        /// An element (nil: finished and drained), plus a putter whose element took its place.
        case element(Element?, admitted: (putter: Putter, size: Int)?)
        case empty
    }

    /// A get that does not wait.
    mutating func get() -> GetAction {
        guard let element = buffer.popFirst() else {
            return isFinished ? .element(nil, admitted: nil) : .empty
        }
        guard let putter = putters.popFirst() else { return .element(element, admitted: nil) }
        buffer.append(putter.element)
        return .element(element, admitted: (putter.continuation, buffer.count))
    }

    /// The slow path of a get, under the same lock as its decision to wait.
    mutating func suspendGet(_ id: UInt64, _ continuation: Getter, cancelled: Bool) -> GetAction? {
        if cancelled { return nil }
        let action = get()
        if case .empty = action { getters.append(id, continuation) }
        return action
    }

    /// An id for a caller about to suspend, unique across getters and putters.
    mutating func makeID() -> UInt64 {
        lastID &+= 1
        return lastID
    }

    mutating func cancelGetter(_ id: UInt64) -> Getter? { getters.remove(id) }

    mutating func cancelPutter(_ id: UInt64) -> Putter? { putters.remove(id)?.continuation }

    /// No more puts. Waiting getters can only be waiting on an empty buffer: they get nil.
    /// Waiting putters keep their turn: their elements are still delivered.
    mutating func finish() -> [Getter] {
        isFinished = true
        return getters.removeAll()
    }
}

/// Thrown by a put into a queue that was finished.
public struct BoundedQueueFinished: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "put into a finished queue" }
}
