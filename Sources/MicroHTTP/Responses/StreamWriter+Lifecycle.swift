import CMicroHTTPD

/// The server's side of a `StreamWriter`: libmicrohttpd's reader, the producer task, and the
/// ways a stream ends (the producer returns, the client leaves, shutdown closes it).
extension StreamWriter {
    /// What the content reader tells libmicrohttpd.
    enum ReadResult: Equatable {
        case bytes(Int)
        /// Nothing buffered: the connection was suspended; a write or the end resumes it.
        case suspended
        case endOfStream
    }

    /// Copies buffered bytes into libmicrohttpd's buffer. Runs on the connection's MHD thread.
    func read(into destination: UnsafeMutableRawPointer, capacity: Int) -> ReadResult {
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var drained: (@Sendable () -> Void)?
        let result: ReadResult = state.withLock { state in
            state.readerCalls += 1
            if state.buffered > 0 {
                let count = state.copyOut(into: destination, capacity: capacity)
                if state.buffered <= highWaterMark / 2 {
                    swap(&waiters, &state.spaceWaiters)
                    if state.drainWanted {
                        state.drainWanted = false
                        drained = state.drainHandler
                    }
                }
                return .bytes(count)
            }
            guard state.phase == .open else { return .endOfStream }
            // Suspend under the lock, so a concurrent write sees `readerSuspended` only once
            // the suspension is done and its resume cannot overtake it.
            state.readerSuspended = true
            ledger.suspend(connection.pointer)
            return .suspended
        }
        for waiter in waiters { waiter.resume() }
        drained?()
        return result
    }

    /// Starts the producer in its own task; the stream ends when it returns.
    func start(_ producer: @escaping @Sendable (StreamWriter) async -> Void) {
        let task = Task {
            await producer(self)
            self.finish()
        }
        let cancelNow = state.withLock { state in
            state.producer = task
            return state.phase == .closed || state.cancelRequested
        }
        if cancelNow { task.cancel() }
    }

    /// The stream is over (its producer returned, or its owner says so): send what is
    /// buffered, then end the response. Later calls do nothing but resume a suspended reader.
    public func finish() {
        let (mustResume, ended) = state.withLock { state in
            var ended: [@Sendable () -> Void] = []
            if state.phase == .open {
                state.phase = .finished
                swap(&ended, &state.endHandlers)
                // Its owner ended it: there is nothing left to tell it.
                state.cancellationHandler = nil
            }
            return (state.takeSuspendedReader(), ended)
        }
        for action in ended { action() }
        if mustResume { ledger.resume(connection) }
    }

    /// Shutdown has begun: cancel the producer (or tell an attached stream's owner), but keep
    /// accepting its last writes.
    func cancelProducer() {
        let (producer, handler) = state.withLock { state in
            state.cancelRequested = true
            defer { state.cancellationHandler = nil }
            return (state.producer, state.cancellationHandler)
        }
        producer?.cancel()
        handler?()
    }

    /// Ends the stream now: buffered bytes are dropped, writes throw, the producer is cancelled,
    /// and a suspended reader is resumed so libmicrohttpd can end the response.
    func close() {
        let (mustResume, waiters, producer, handler, ended) = state.withLock { state in
            state.phase = .closed
            state.buffer = []
            state.readOffset = 0
            // The handlers may hold whoever holds this writer: let go of them.
            state.drainHandler = nil
            defer {
                state.spaceWaiters = []
                state.cancellationHandler = nil
                state.endHandlers = []
            }
            return (
                state.takeSuspendedReader(), state.spaceWaiters, state.producer, state.cancellationHandler,
                state.endHandlers
            )
        }
        for action in ended { action() }
        if mustResume { ledger.resume(connection) }
        for waiter in waiters { waiter.resume(throwing: Closed()) }
        producer?.cancel()
        handler?()
    }

    /// libmicrohttpd is done with the response (sent, failed or the connection closed): the
    /// stream can never send again, so close it and give back its slot.
    func responseReleased() {
        close()
        admission.retire(self)
    }

    /// Content-reader calls so far: bounded by the writes, never by time (tests check that an
    /// idle stream sleeps).
    var readerCalls: Int {
        state.withLock { $0.readerCalls }
    }
}

extension StreamWriter.State {
    /// Moves up to `capacity` buffered bytes to `destination`; returns how many.
    mutating func copyOut(into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let count = min(buffered, capacity)
        let start = readOffset
        buffer.withUnsafeBytes { source in
            if let base = source.baseAddress {
                destination.copyMemory(from: base + start, byteCount: count)
            }
        }
        readOffset += count
        if readOffset == buffer.count {
            // Drained: let go of the bytes. The next bytes queued are taken as they come
            // (`enqueue`), so a drained stream holds no buffer of its own: an idle subscriber
            // costs no room for frames, and a replayed backlog's is given back at once.
            buffer = []
            readOffset = 0
        } else if readOffset >= 64 * 1024 {
            buffer.removeFirst(readOffset)
            readOffset = 0
        }
        return count
    }
}
