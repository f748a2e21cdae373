import DequeModule

/// The suspended callers of a primitive, first come first served. Each waiter has an id so
/// that a cancellation handler can find and remove exactly its own entry, wherever it is.
///
/// Not synchronised: it lives inside a primitive's `Mutex` state, and its operations are
/// the only ones the primitives' state transitions need.
struct WaiterQueue<Payload> {
    private var waiters: Deque<(id: UInt64, payload: Payload)> = []
    private var lastID: UInt64 = 0

    var count: Int { waiters.count }
    var isEmpty: Bool { waiters.isEmpty }

    /// A fresh id for a caller about to suspend.
    mutating func makeID() -> UInt64 {
        lastID &+= 1
        return lastID
    }

    mutating func append(_ id: UInt64, _ payload: Payload) {
        waiters.append((id, payload))
    }

    mutating func popFirst() -> Payload? {
        waiters.popFirst()?.payload
    }

    /// Removes the waiter `id`; nil when it already left (it was resumed before the
    /// cancellation handler ran, and owns what it was given).
    mutating func remove(_ id: UInt64) -> Payload? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).payload
    }

    mutating func removeAll() -> [Payload] {
        defer { waiters.removeAll() }
        return waiters.map(\.payload)
    }
}
