import DequeModule
import Synchronization

/// The `rate-limiter` run's limiter: a token bucket with a queue of waiting calls, served
/// by one dispatcher task in order of arrival. A call's ticket is its place in the queue,
/// taken under the same lock that queues it; the dispatcher takes a token at the time it
/// admits, and logs that time and the ticket.
final class RateLimiterGate: Sendable {
    /// How a deliberately broken limiter misbehaves, for tests that show the checks fail.
    struct Faults: Sendable {
        /// Refill at this multiple of the rate.
        var refillFactor = 1.0
        /// Serve the newest waiter first.
        var lifo = false
        /// Ask to wake after this multiple of the wait the bucket said (a lazy dispatcher).
        var wakeFactor = 1.0
        /// Not the limiter's fault: every wake-up comes this much after the time asked for,
        /// as a busy machine's late timers make it (the limiter must still use every token
        /// it has when it looks).
        var lateTimerMs = 0.0
    }

    /// One look at the bucket by the dispatcher, on behalf of the oldest waiting call: it
    /// admitted that call, or asked to wake at `wakeAtMs`.
    struct Read: Sendable {
        let atMs: Double
        let admitted: Bool
        let wakeAtMs: Double?
    }

    struct Admission: Sendable {
        let ticket: Int
        let atMs: Double
        /// Calls still queued after this one: 0 ends a stretch of waiting demand.
        let waitingAfter: Int
    }

    private struct Request {
        let ticket: Int
        let admitted: AsyncEvent
    }

    private struct State {
        var bucket: TokenBucket
        var queue = Deque<Request>()
        var nextTicket = 0
        var admissions: [Admission] = []
        var reads: [Read] = []
        var finished = false
    }

    private enum Step {
        case admitted(Admission, tokens: Double, waiting: Int)
        case wait(untilMs: Double)
    }

    private let state: Mutex<State>
    private let arrivals = AsyncEvent()
    private let faults: Faults

    init(ratePerS: Int, burst: Int, faults: Faults) {
        state = Mutex(State(bucket: TokenBucket(ratePerS: Double(ratePerS) * faults.refillFactor, burst: burst)))
        self.faults = faults
    }

    /// Queues a call and waits until the dispatcher admits it; `queued` sees its ticket and
    /// the queue's length as soon as it is queued.
    func acquire(queued: (_ ticket: Int, _ waiting: Int) -> Void) async throws {
        let admitted = AsyncEvent()
        let (ticket, waiting) = state.withLock { state -> (Int, Int) in
            let ticket = state.nextTicket
            state.nextTicket += 1
            state.queue.append(Request(ticket: ticket, admitted: admitted))
            return (ticket, state.queue.count)
        }
        queued(ticket, waiting)
        arrivals.set()
        try await admitted.wait()
    }

    /// No more calls will come: the dispatcher returns once the queue is empty.
    func finish() {
        state.withLock { $0.finished = true }
        arrivals.set()
    }

    /// Admits queued calls one by one as tokens allow, until `finish` and an empty queue.
    /// `admitted` sees each admission with the tokens left and the queue's length.
    func dispatch(clock: RunClock, admitted: (Admission, _ tokens: Double, _ waiting: Int) -> Void) async throws {
        while true {
            // nil: wait for an arrival; .some(nil): finished and drained.
            let next = state.withLock { state -> Request?? in
                guard let request = faults.lifo ? state.queue.last : state.queue.first else {
                    if state.finished { return .some(nil) }
                    arrivals.clear()
                    return nil
                }
                return .some(request)
            }
            guard let next else {
                try await arrivals.wait()
                continue
            }
            guard let request = next else { return }
            let (admission, tokens, waiting) = try await takeToken(for: request, clock: clock)
            admitted(admission, tokens, waiting)
            request.admitted.set()
        }
    }

    /// Waits until the bucket has a token, then takes it and dequeues `request`.
    private func takeToken(for request: Request, clock: RunClock) async throws -> (Admission, Double, Int) {
        while true {
            let now = clock.elapsedMs()
            let step = state.withLock { state -> Step in
                if let waitMs = state.bucket.take(atMs: now) {
                    let wakeAtMs = ((now + waitMs * faults.wakeFactor) * 1000).rounded(.up) / 1000
                    state.reads.append(Read(atMs: now, admitted: false, wakeAtMs: wakeAtMs))
                    return .wait(untilMs: wakeAtMs)
                }
                state.reads.append(Read(atMs: now, admitted: true, wakeAtMs: nil))
                // By ticket: newer calls may have queued behind it while it waited.
                if let index = state.queue.firstIndex(where: { $0.ticket == request.ticket }) { state.queue.remove(at: index) }
                let admission = Admission(ticket: request.ticket, atMs: now, waitingAfter: state.queue.count)
                state.admissions.append(admission)
                return .admitted(admission, tokens: state.bucket.tokens, waiting: state.queue.count)
            }
            switch step {
            case .admitted(let admission, let tokens, let waiting): return (admission, tokens, waiting)
            case .wait(let wakeAtMs):
                // Rounded up to the microsecond: waking a hair early would only loop once more.
                let lateUs = Int((faults.lateTimerMs * 1000).rounded())
                try await clock.sleep(until: .microseconds(Int((wakeAtMs * 1000).rounded()) + lateUs))
            }
        }
    }

    var admissions: [Admission] { state.withLock { $0.admissions } }
    var reads: [Read] { state.withLock { $0.reads } }
}
