import Synchronization

/// One async handler call, from the suspension of its connection to its resumption.
///
/// Three parties race to answer: the handler task (its response), the deadline timer (504) and
/// shutdown (503). Invariant: exactly one of them wins `claim()`, and only the winner touches the
/// connection: it hands the response over and resumes the connection, once. The losers discard
/// their result, so a handler that finishes late cannot answer twice.
///
/// The admission permit is given back when the request completes (its response written, see
/// `ServerCore.requestCompleted`), so shutdown, which waits for permits, never stops the daemon
/// under a response still being written. A stream gives its permit back as soon as it is handed
/// over: from then on its own stream slot accounts for it.
final class InFlightCall: Sendable {
    private struct State {
        var isClaimed = false
        var handlerTask: Task<Void, Never>?
        var timer: DeadlineToken?
    }

    let request: Request
    private let connection: ConnectionHandle
    private let context: ConnectionContext
    private let core: ServerCore
    private let state = Mutex(State())

    init(request: Request, connection: ConnectionHandle, context: ConnectionContext, core: ServerCore) {
        self.request = request
        self.connection = connection
        self.context = context
        self.core = core
    }

    /// Runs the handler's answer in a task, raced by a timer. Call after the connection is suspended.
    func start(_ respond: @escaping @Sendable (Request) async -> Response, timeout: Duration) {
        let request = request
        let handlerTask = Task {
            let response = await respond(request)
            self.handlerReturned(response)
        }
        let timers = core.deadlineTimers
        let timer = timers.schedule(at: .now + timeout) { self.expire(after: timeout) }
        let alreadyAnswered = state.withLock { state in
            state.handlerTask = handlerTask
            state.timer = timer
            return state.isClaimed
        }
        // Someone may have won before the handles were stored, so could not cancel the others:
        // the handler's timer, or (when the timer won) the handler. Cancelling a task that has
        // already delivered is harmless: a stream's producer runs in a task of its own.
        if alreadyAnswered {
            timers.cancel(timer)
            handlerTask.cancel()
        }
    }

    /// Shutdown's deadline passed: cancel the handler and answer 503.
    func abortForShutdown() {
        guard let (handlerTask, timer) = claim() else { return }
        handlerTask?.cancel()
        if let timer { core.deadlineTimers.cancel(timer) }
        deliver(.bytes(core.response(.shuttingDown, path: request.path)))
    }

    private func handlerReturned(_ response: Response) {
        guard let (_, timer) = claim() else { return }
        if let timer { core.deadlineTimers.cancel(timer) }
        if response.isStream {
            deliverStream(response)
        } else {
            deliver(.bytes(response))
        }
    }

    private func expire(after timeout: Duration) {
        guard let (handlerTask, _) = claim() else { return }
        handlerTask?.cancel()
        core.counters.requestTimeouts.wrappingAdd(1, ordering: .relaxed)
        deliver(.bytes(core.response(.timedOut(after: timeout), path: request.path)))
    }

    /// True for exactly one caller; returns the tasks so the winner can cancel the others.
    private func claim() -> (Task<Void, Never>?, DeadlineToken?)? {
        state.withLock { state in
            guard !state.isClaimed else { return nil }
            state.isClaimed = true
            return (state.handlerTask, state.timer)
        }
    }

    private func deliverStream(_ response: Response) {
        let writer = core.makeStreamWriter(for: connection)
        do {
            try core.admission.admit(writer)
        } catch {
            deliver(.bytes(core.refusal(error, path: request.path, stream: true)))
            return
        }
        response.body.begin(writer)
        deliver(.stream(response, writer))
    }

    /// The winner's only path to the connection: hand over, then resume once.
    private func deliver(_ pending: ConnectionContext.Pending) {
        context.setHandoff(pending)
        core.ledger.resume(connection)
        if case .stream = pending { core.admission.retire(self) }
    }
}
