/// Wraps the sequence an operator consumes and notes when the operator received each
/// element: `debounce` reads its clock the moment its upstream iterator returns, so these are
/// the times it judged quiet periods by (a busy machine can deliver an event well after the
/// source sent it).
struct ReceiptTimedSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == Int {
    typealias Element = Int

    let base: Base
    let clock: RunClock
    let receipts: Locked<[Int: Double]>

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let clock: RunClock
        let receipts: Locked<[Int: Double]>

        mutating func next() async throws -> Int? {
            guard let value = try await base.next() else { return nil }
            let now = clock.elapsedMs()
            receipts.withLock { $0[value] = now }
            return value
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), clock: clock, receipts: receipts)
    }
}
