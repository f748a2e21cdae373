import Synchronization

/// The server's own semaphore: bounds the async handlers in flight and the open streams, and
/// knows every one of them so shutdown can end them.
///
/// Invariants:
/// - An async call holds its permit from before its connection is suspended until its request
///   completes (or, for a stream, until the stream is handed over); a stream holds its slot
///   until libmicrohttpd releases its response. Retiring twice is harmless.
/// - Once `beginDraining()` has run, nothing more is admitted. Together with `SuspensionLedger`
///   this is what lets shutdown prove that no connection can still be (or become) suspended.
/// Admission never waits: over the limit the caller answers 503 at once.
final class Admission: Sendable {
    enum Refusal: Error {
        case overloaded
        case draining
    }

    /// What shutdown waits for.
    enum Quiet: Sendable {
        /// No async handler is running.
        case noCalls
        /// No async handler is running and no stream is open.
        case idle
    }

    fileprivate struct State {
        var isDraining = false
        var calls: [ObjectIdentifier: InFlightCall] = [:]
        var streams: [ObjectIdentifier: StreamWriter] = [:]
        var waiters: [Int: (quiet: Quiet, continuation: CheckedContinuation<Bool, Never>)] = [:]
        var expiredWaiters: Set<Int> = []
        var nextWaiterID = 0

        func isQuiet(_ quiet: Quiet) -> Bool {
            switch quiet {
            case .noCalls: calls.isEmpty
            case .idle: calls.isEmpty && streams.isEmpty
            }
        }
    }

    let maxInFlight: Int
    let maxStreams: Int
    private let state = Mutex(State())
    /// Mirrors `State.isDraining` for the fast path, which must not take the lock.
    private let drainingFlag = Atomic<Bool>(false)

    init(maxInFlight: Int, maxStreams: Int) {
        self.maxInFlight = maxInFlight
        self.maxStreams = maxStreams
    }

    var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    var counts: (inFlight: Int, streams: Int) {
        state.withLock { ($0.calls.count, $0.streams.count) }
    }

    /// True when a stream admitted now would not be over the limit (nor refused for a drain).
    var hasRoomForStream: Bool {
        state.withLock { !$0.isDraining && $0.streams.count < maxStreams }
    }

    func admit(_ call: InFlightCall) throws(Refusal) {
        try state.withLock { (state) throws(Refusal) in
            if state.isDraining { throw .draining }
            if state.calls.count >= maxInFlight { throw .overloaded }
            state.calls[ObjectIdentifier(call)] = call
        }
    }

    func retire(_ call: InFlightCall) {
        resumeQuietWaiters(state.withLock { state in
            state.calls[ObjectIdentifier(call)] = nil
            return state.takeQuietWaiters()
        })
    }

    func admit(_ stream: StreamWriter) throws(Refusal) {
        try state.withLock { (state) throws(Refusal) in
            if state.isDraining { throw .draining }
            if state.streams.count >= maxStreams { throw .overloaded }
            state.streams[ObjectIdentifier(stream)] = stream
        }
    }

    func retire(_ stream: StreamWriter) {
        resumeQuietWaiters(state.withLock { state in
            state.streams[ObjectIdentifier(stream)] = nil
            return state.takeQuietWaiters()
        })
    }

    /// Refuses everything from now on; returns what is still running.
    func beginDraining() -> (calls: [InFlightCall], streams: [StreamWriter]) {
        drainingFlag.store(true, ordering: .releasing)
        return state.withLock { state in
            state.isDraining = true
            return (Array(state.calls.values), Array(state.streams.values))
        }
    }

    /// What is still running (during a drain, to force it to end).
    func remaining() -> (calls: [InFlightCall], streams: [StreamWriter]) {
        state.withLock { (Array($0.calls.values), Array($0.streams.values)) }
    }

    /// Waits until `quiet` holds; false when `timeout` passed first.
    func wait(until quiet: Quiet, timeout: Duration) async -> Bool {
        let timeout = max(.zero, timeout)
        let waiterID = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.expireWaiter(waiterID)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let answer: Bool? = state.withLock { state in
                if state.isQuiet(quiet) { return true }
                // The timer may have fired before we got here.
                if state.expiredWaiters.remove(waiterID) != nil { return false }
                state.waiters[waiterID] = (quiet, continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    private func expireWaiter(_ id: Int) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id)?.continuation else {
                state.expiredWaiters.insert(id)
                return CheckedContinuation<Bool, Never>?.none
            }
            return waiter
        }
        waiter?.resume(returning: false)
    }

    private func resumeQuietWaiters(_ waiters: [CheckedContinuation<Bool, Never>]) {
        for waiter in waiters { waiter.resume(returning: true) }
    }
}

extension Admission.State {
    /// Removes and returns the waiters whose condition now holds.
    fileprivate mutating func takeQuietWaiters() -> [CheckedContinuation<Bool, Never>] {
        guard !waiters.isEmpty else { return [] }
        let ready = waiters.filter { isQuiet($0.value.quiet) }
        for id in ready.keys { waiters[id] = nil }
        return ready.values.map(\.continuation)
    }
}
