/// An actor that a run's tasks are isolated to so that they take turns the way asyncio's
/// tasks do on their event loop: one runs at a time, and another runs only when it awaits
/// something that suspends. Tasks isolated to it still sleep, wait and get cancelled like any
/// other; what changes is that the code between two suspensions runs without interleaving.
///
/// Why a pattern wants it: on Swift's thread pool a consumer woken by a put may take the
/// item on another thread while the producer is still putting the next ones, so a queue's
/// observed size depends on the machine. On one loop the producer keeps running until it
/// suspends, and the woken consumer takes its item afterwards, as in asyncio.
///
/// Use it through a parameter: `func produce(on loop: isolated EventLoop, ...) async`.
public actor EventLoop {
    public init() {}
}
