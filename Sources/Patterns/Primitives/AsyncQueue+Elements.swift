extension AsyncQueue {
    /// The queue as an `AsyncSequence` for `for try await item in queue.elements` (asyncio's
    /// `async for` over an async generator reading a queue): each iteration is a `get()`,
    /// and the sequence ends once the queue is shut down and drained. Several consumers may
    /// iterate the same queue; each item goes to one of them.
    public var elements: Elements { Elements(queue: self) }

    public struct Elements: AsyncSequence, Sendable {
        let queue: AsyncQueue<Element>

        public struct AsyncIterator: AsyncIteratorProtocol {
            let queue: AsyncQueue<Element>

            public mutating func next() async throws -> Element? {
                try await queue.get()?.element
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: queue) }
    }
}
