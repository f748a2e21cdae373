import Dispatch
import HeapModule

/// The waits on a `VirtualClock`: a heap of deadlines over the waiters, by id.
///
/// Not synchronised: it lives inside the clock's `Mutex`. Invariants: every waiter has one
/// heap entry; an entry whose waiter is gone (a cancelled sleeper or action) stays in the
/// heap until it reaches the top or the heap is rebuilt without it (once the dead outnumber
/// the living); ids only grow, so (deadline, id) orders equal deadlines first come, first
/// served.
struct VirtualTimers {
    enum Waiter {
        case task(UnsafeContinuation<Void, any Error>)
        case thread(DispatchSemaphore)
        case action(@Sendable () -> Void)
    }

    struct Entry: Comparable {
        let deadline: Duration
        let id: UInt64

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            (lhs.deadline, lhs.id) < (rhs.deadline, rhs.id)
        }
    }

    /// What one step of time wakes, each list in (deadline, id) order.
    struct Due {
        var tasks: [UnsafeContinuation<Void, any Error>] = []
        var threads: [DispatchSemaphore] = []
        var actions: [@Sendable () -> Void] = []
    }

    var now: Duration = .zero
    private var heap = Heap<Entry>()
    private var waiters: [UInt64: Waiter] = [:]
    private var lastID: UInt64 = 0
    private var dead = 0
    private(set) var sleepers = 0
    private(set) var blockedThreads = 0
    private(set) var sleepsBegun = 0

    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    mutating func register(_ waiter: Waiter, id: UInt64, at deadline: Duration) {
        waiters[id] = waiter
        heap.insert(Entry(deadline: deadline, id: id))
        count(waiter, by: 1)
        if case .task = waiter { sleepsBegun += 1 }
    }

    /// Removes waiter `id`; nil when it was already woken or removed.
    mutating func remove(_ id: UInt64) -> Waiter? {
        guard let waiter = waiters.removeValue(forKey: id) else { return nil }
        count(waiter, by: -1)
        dead += 1
        if dead > 1_024, dead * 2 > heap.count {
            let live = waiters
            heap = Heap(heap.unordered.filter { live[$0.id] != nil })
            dead = 0
        }
        return waiter
    }

    /// The earliest live deadline (dropping dead entries from the top on the way).
    mutating func nextDeadline() -> Duration? {
        while let first = heap.min {
            if waiters[first.id] != nil { return first.deadline }
            _ = heap.removeMin()
            dead = max(0, dead - 1)
        }
        return nil
    }

    /// Moves time to `instant` (never back) and takes every waiter due by then. With
    /// `deferringActions`, actions stay scheduled while tasks or threads are due at the
    /// same time: they run at a later jump to the same instant, after those have run.
    mutating func takeDue(upTo instant: Duration, deferringActions: Bool) -> Due {
        now = max(now, instant)
        var due = Due()
        var actionEntries: [Entry] = []
        while let first = heap.min, first.deadline <= now {
            _ = heap.removeMin()
            guard let waiter = waiters[first.id] else {
                dead = max(0, dead - 1)
                continue
            }
            switch waiter {
            case .task(let continuation): due.tasks.append(continuation)
            case .thread(let semaphore): due.threads.append(semaphore)
            case .action(let action):
                actionEntries.append(first)
                due.actions.append(action)
                continue
            }
            waiters[first.id] = nil
            count(waiter, by: -1)
        }
        if deferringActions, !due.tasks.isEmpty || !due.threads.isEmpty {
            for entry in actionEntries { heap.insert(entry) }
            due.actions = []
        } else {
            for entry in actionEntries { waiters[entry.id] = nil }
        }
        return due
    }

    private mutating func count(_ waiter: Waiter, by delta: Int) {
        switch waiter {
        case .task: sleepers += delta
        case .thread: blockedThreads += delta
        case .action: break
        }
    }
}
