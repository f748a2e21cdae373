import CMicroHTTPD
import Synchronization

/// The producer's end of a streamed response (`Response.Body.stream`).
///
/// `write` appends to the connection's buffer and wakes the connection; libmicrohttpd pulls the
/// bytes from its own thread through `read(into:)`. The two meet under one lock:
/// - When the buffer is empty the reader suspends the connection and returns 0 (returning 0
///   without suspending would make libmicrohttpd call again at once and burn a core). The next
///   write, or the end of the stream, resumes it: exactly one resume per suspension, decided
///   under the lock by `readerSuspended`.
/// - Back-pressure: past the high-water mark `write` waits until the client has taken the
///   buffer down to half of it, so a slow client cannot grow memory without bound.
/// - A suspended connection never notices its client leaving; the next write resumes it, the
///   send fails, and libmicrohttpd's release of the response closes the writer, so later
///   writes throw and the producer is cancelled. Producers that may idle should write
///   heartbeats.
/// - Shutdown cancels the producer but keeps the writer open for `shutdownGrace`, so it can
///   write a final frame; then the writer is closed under it.
/// - An attached stream (`Response.Body.attached`) has no producer task: its owner (an event
///   fan-out serving thousands of streams) writes with `offer`, ends it with `finish`, and is
///   told by the handler it gives `detach`, instead of a task cancellation, when the client
///   left or shutdown began.
public final class StreamWriter: Sendable {
    /// Thrown by `write` once the stream can take no more bytes.
    public struct Closed: Error, Sendable {}

    enum Phase: Sendable {
        case open
        /// The producer returned: send what is buffered, then end the response.
        case finished
        /// No more bytes: the client left, or shutdown closed it. End the response now.
        case closed
    }

    /// What `offer` did with the bytes.
    public enum OfferOutcome: Sendable, Equatable {
        /// Buffered for the client (the buffer may now be above the high-water mark).
        case written
        /// Nothing written: the buffer is above the high-water mark. The drain handler runs once
        /// it is back at half of it.
        case full
        /// Nothing written: the stream can take no more bytes.
        case closed
    }

    struct State: Sendable {
        var buffer: [UInt8] = []
        var readOffset = 0
        var phase = Phase.open
        var readerSuspended = false
        var producer: Task<Void, Never>?
        var cancelRequested = false
        var spaceWaiters: [CheckedContinuation<Void, any Error>] = []
        var bytesWritten = 0
        var readerCalls = 0
        /// Set by an `offer` that found the buffer full; cleared when the drain handler runs.
        var drainWanted = false
        var drainHandler: (@Sendable () -> Void)?
        /// The owner's, told once when the client leaves or shutdown asks the stream to end.
        var cancellationHandler: (@Sendable () -> Void)?
        /// Run once when the stream ends (`finish` or `close`, the first of them).
        var endHandlers: [@Sendable () -> Void] = []

        var buffered: Int { buffer.count - readOffset }

        /// Queues `bytes`. Into an empty buffer they are taken as they are, not copied: a
        /// fan-out offers one frame's bytes to every subscriber, and each stream then holds a
        /// reference to them, not a copy, until libmicrohttpd has taken them. Appending to bytes
        /// taken that way copies them first (the array is shared), so the stream's own bytes
        /// never change under another stream.
        mutating func enqueue(_ bytes: [UInt8]) {
            if buffered == 0 {
                buffer = bytes
                readOffset = 0
            } else {
                buffer.append(contentsOf: bytes)
            }
            bytesWritten += bytes.count
        }
    }

    let state = Mutex(State())
    let connection: ConnectionHandle
    let ledger: SuspensionLedger
    let admission: Admission
    let highWaterMark: Int

    init(connection: ConnectionHandle, ledger: SuspensionLedger, admission: Admission, highWaterMark: Int) {
        self.connection = connection
        self.ledger = ledger
        self.admission = admission
        self.highWaterMark = max(1, highWaterMark)
    }

    /// True once writes throw: the client left, the stream ended, or the server closed it.
    public var isClosed: Bool {
        state.withLock { $0.phase != .open }
    }

    /// Bytes accepted by `write` so far.
    public var bytesWritten: Int {
        state.withLock { $0.bytesWritten }
    }

    /// Queues `bytes` for the client. Waits while more than the high-water mark is buffered;
    /// throws `Closed` once the stream cannot take more (the client is gone or it was closed).
    public func write(_ bytes: [UInt8]) async throws {
        let mustResume = try state.withLock { (state) throws(Closed) -> Bool in
            guard state.phase == .open else { throw Closed() }
            state.enqueue(bytes)
            return state.takeSuspendedReader()
        }
        if mustResume { ledger.resume(connection) }
        try await waitForSpace()
    }

    /// Queues `bytes` without waiting, for a producer that writes many streams from one task (an
    /// event fan-out): written whole when the buffer is at or below the high-water mark (so a
    /// frame is never split), refused whole when it is above it. A refusal arms the drain
    /// handler, which runs (once, on the connection's thread) when the client has taken the
    /// buffer down to half the mark.
    ///
    /// `force` writes even over the mark: for a stream's last few bytes (a notice saying why it
    /// ends), which must not wait for a client that may never drain.
    public func offer(_ bytes: [UInt8], force: Bool = false) -> OfferOutcome {
        let (outcome, mustResume) = state.withLock { state -> (OfferOutcome, Bool) in
            guard state.phase == .open else { return (.closed, false) }
            guard force || state.buffered <= highWaterMark else {
                state.drainWanted = true
                return (.full, false)
            }
            state.enqueue(bytes)
            return (.written, state.takeSuspendedReader())
        }
        if mustResume { ledger.resume(connection) }
        return outcome
    }

    /// What runs when a stream that refused an `offer` has drained (see `offer`). Set it before
    /// the first offer; it must not block (it runs on a libmicrohttpd thread).
    public func setDrainHandler(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.drainHandler = handler }
    }

    /// For the owner of an attached stream (`Response.Body.attached`), which calls `finish()`
    /// when the stream is over: `onCancel` runs once (on whichever thread sees it) when the
    /// client has left or shutdown asks the stream to end, at once if that already happened;
    /// after shutdown's request the stream stays writable for the grace period, so the owner can
    /// write a last frame (`offer(_:force:)`) and finish. Not after `finish()`: an owner is not
    /// told about a stream it ended. Why no task: one waiting on each of 3,000 event streams held
    /// 2.4 KB of task memory per stream, a tenth of what an open stream costs.
    public func detach(onCancel: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            guard state.phase != .closed && !state.cancelRequested else { return true }
            state.cancellationHandler = onCancel
            return false
        }
        if runNow { onCancel() }
    }

    /// Runs `action` once when the stream ends: its producer returned or its owner finished it,
    /// or it was closed (the client left, shutdown); at once if it already ended.
    public func whenEnded(_ action: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state -> Bool in
            guard state.phase == .open else { return true }
            state.endHandlers.append(action)
            return false
        }
        if ended { action() }
    }

    /// Queues the UTF-8 bytes of `text`.
    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    private func waitForSpace() async throws {
        guard state.withLock({ $0.buffered > highWaterMark }) else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, Closed>? = state.withLock { state in
                if state.phase != .open { return .failure(Closed()) }
                if state.buffered <= highWaterMark / 2 { return .success(()) }
                state.spaceWaiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}

extension StreamWriter.State {
    /// Clears `readerSuspended` and tells whether the caller must now resume the connection.
    mutating func takeSuspendedReader() -> Bool {
        defer { readerSuspended = false }
        return readerSuspended
    }
}
