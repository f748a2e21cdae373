/// The state of an `AsyncQueue`, as transitions that return whom to wake once the lock is
/// released. Waking is asyncio's `_wakeup_next`: the waiter is only told to look again, it
/// is handed nothing, so an item stays in the queue (and in `count`) until a getter takes it.
struct AsyncQueueState<Element: Sendable> {
    typealias Waiter = UnsafeContinuation<Void, any Error>

    /// What a caller suspends for.
    enum WaitKind: Sendable {
        /// A put, for room (the queue was full).
        case room
        /// A get, for an item (the queue was empty).
        case item
        /// A join, for the unfinished count to reach zero.
        case join
    }

    let maxsize: Int
    private(set) var storage: QueueStorage<Element>
    private(set) var getters = WaiterQueue<Waiter>()
    private(set) var putters = WaiterQueue<Waiter>()
    private(set) var joiners = WaiterQueue<Waiter>()
    /// Items put and not yet marked done (`task_done`); never below zero.
    private(set) var unfinished = 0
    private(set) var isShutDown = false
    private(set) var peakCount = 0
    /// Puts that found the queue full and waited at least once.
    var suspendedPuts = 0
    private var lastID: UInt64 = 0

    init(maxsize: Int, discipline: QueueDiscipline) {
        precondition(maxsize >= 0, "maxsize must be 0 (unbounded) or more")
        self.maxsize = maxsize
        storage = QueueStorage(discipline: discipline)
    }

    var isFull: Bool { maxsize > 0 && storage.count >= maxsize }

    enum PutOutcome {
        case inserted(size: Int, wake: Waiter?)
        case full
        case shutDown
    }

    /// `put_nowait`: the item goes in (counting as unfinished) and the first waiting getter
    /// is woken to come and take it.
    mutating func put(_ element: Element, priority: Int) -> PutOutcome {
        if isShutDown { return .shutDown }
        if isFull { return .full }
        storage.insert(element, priority: priority)
        unfinished += 1
        peakCount = max(peakCount, storage.count)
        return .inserted(size: storage.count, wake: getters.popFirst())
    }

    enum GetOutcome {
        case took(Element, size: Int, wake: Waiter?)
        case empty
        case shutDown
    }

    /// `get_nowait`: takes the next item and wakes the first waiting putter.
    mutating func get() -> GetOutcome {
        guard let element = storage.removeNext() else { return isShutDown ? .shutDown : .empty }
        return .took(element, size: storage.count, wake: putters.popFirst())
    }

    /// `task_done`: nil when it was called more times than items were put (asyncio raises
    /// ValueError and leaves the count at zero); else the count left and, when that is zero,
    /// the joiners to wake.
    mutating func taskDone() -> (unfinished: Int, joiners: [Waiter])? {
        guard unfinished > 0 else { return nil }
        unfinished -= 1
        return (unfinished, unfinished == 0 ? joiners.removeAll() : [])
    }

    mutating func makeID() -> UInt64 {
        lastID &+= 1
        return lastID
    }

    /// Whether a caller of this kind has to wait right now.
    func mustWait(_ kind: WaitKind) -> Bool {
        switch kind {
        case .room: !isShutDown && isFull
        case .item: !isShutDown && storage.isEmpty
        case .join: unfinished > 0
        }
    }

    /// Registers a waiter, under the same lock as the decision that it must wait; false when
    /// it need not (anymore), and the caller looks again at once.
    mutating func register(_ kind: WaitKind, _ id: UInt64, _ waiter: Waiter) -> Bool {
        guard mustWait(kind) else { return false }
        switch kind {
        case .room: putters.append(id, waiter)
        case .item: getters.append(id, waiter)
        case .join: joiners.append(id, waiter)
        }
        return true
    }

    /// Removes a cancelled waiter; nil when it was already woken (and owns its wake-up).
    mutating func remove(_ kind: WaitKind, _ id: UInt64) -> Waiter? {
        switch kind {
        case .room: putters.remove(id)
        case .item: getters.remove(id)
        case .join: joiners.remove(id)
        }
    }

    /// A waiter that was woken and then cancelled passes its wake-up to the next one of its
    /// kind while there is still something to wake for, so no item or slot is stranded.
    mutating func passOnWakeup(_ kind: WaitKind) -> Waiter? {
        switch kind {
        case .room: isFull ? nil : putters.popFirst()
        case .item: storage.isEmpty ? nil : getters.popFirst()
        case .join: nil
        }
    }

    /// `shutdown()`: no more puts; every waiting putter and getter looks again (putters then
    /// fail, getters drain what is left and then get nothing).
    mutating func shutdown() -> [Waiter] {
        isShutDown = true
        return putters.removeAll() + getters.removeAll()
    }

    var waitingGetters: Int { getters.count }
    var waitingPutters: Int { putters.count }
}
