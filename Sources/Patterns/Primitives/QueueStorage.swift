import DequeModule
import HeapModule

/// Which item a queue hands out next: asyncio's `Queue` (fifo), `LifoQueue` (lifo) and
/// `PriorityQueue` (priority: the lowest priority first).
public enum QueueDiscipline: String, Sendable, CaseIterable {
    case fifo, lifo, priority
}

/// The items of an `AsyncQueue`, in the order its discipline hands them out. Equal
/// priorities leave in the order they were put: asyncio compares the items themselves, so
/// a program gets the same order by putting `(priority, sequence, item)` tuples.
struct QueueStorage<Element> {
    private struct Ranked: Comparable {
        let priority: Int
        let sequence: UInt64
        let element: Element

        static func < (lhs: Ranked, rhs: Ranked) -> Bool {
            (lhs.priority, lhs.sequence) < (rhs.priority, rhs.sequence)
        }

        static func == (lhs: Ranked, rhs: Ranked) -> Bool {
            lhs.priority == rhs.priority && lhs.sequence == rhs.sequence
        }
    }

    let discipline: QueueDiscipline
    private var deque: Deque<Element> = []
    private var heap = Heap<Ranked>()
    private var sequence: UInt64 = 0

    init(discipline: QueueDiscipline) {
        self.discipline = discipline
    }

    var count: Int { discipline == .priority ? heap.count : deque.count }
    var isEmpty: Bool { count == 0 }

    mutating func insert(_ element: Element, priority: Int) {
        switch discipline {
        case .fifo, .lifo:
            deque.append(element)
        case .priority:
            sequence &+= 1
            heap.insert(Ranked(priority: priority, sequence: sequence, element: element))
        }
    }

    mutating func removeNext() -> Element? {
        switch discipline {
        case .fifo: deque.popFirst()
        case .lifo: deque.popLast()
        case .priority: heap.popMin()?.element
        }
    }
}
