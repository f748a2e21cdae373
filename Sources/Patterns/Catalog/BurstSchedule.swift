/// The `debounce-throttle` source: `bursts` of `size` events `gapMs` apart, each burst
/// followed by `quietMs` of silence. Event i's value is i; its time is fixed by the
/// schedule, and the time it was actually sent is logged.
struct BurstSchedule: Sendable {
    let bursts, size, gapMs, quietMs: Int
    let log = SentLog()

    /// When each event was sent, by value.
    final class SentLog: Sendable {
        private let sent = Locked([Double]())
        func append(_ time: Double) { sent.withLock { $0.append(time) } }
        var times: [Double] { sent.value }
    }

    init(_ parameters: ParameterSet) {
        bursts = parameters.int("bursts")
        size = parameters.int("burst_size")
        gapMs = parameters.int("event_gap_ms")
        quietMs = parameters.int("quiet_ms")
    }

    var events: Int { bursts * size }
    var burstSpanMs: Int { (size - 1) * gapMs }
    var durationMs: Int { bursts * (burstSpanMs + quietMs) }

    func timeMs(of event: Int) -> Int {
        (event / size) * (burstSpanMs + quietMs) + (event % size) * gapMs
    }

    func isLastOfBurst(_ event: Int) -> Bool { event % size == size - 1 }

    /// Sends every event into every feed on time, then stays quiet for the last burst's
    /// quiet period (counted from when the last event was really sent) before finishing the
    /// feeds (debounce passes a pending event on at once
    /// when its upstream finishes, so finishing early would cut the last quiet period).
    func play(into feeds: [AsyncStream<Int>.Continuation], id: Int, _ context: RunContext) async throws {
        try await context.task(id, label: "source", countsAsProgress: false) {
            defer { for feed in feeds { feed.finish() } }
            let start = context.elapsedMs()
            var lastSent = start
            for event in 0..<events {
                try await context.clock.sleep(until: .microseconds(Int((start + Double(timeMs(of: event))) * 1000)))
                lastSent = context.elapsedMs()
                log.append(lastSent)
                for feed in feeds { feed.yield(event) }
                context.emit("source.event", ["task": .int(id), "value": .int(event), "burst": .int(event / size), "source_events": .int(event + 1)])
                context.recorder.advanceProgress()
            }
            // Quiet after the last event as sent, not as planned: a source a busy machine
            // held up must still leave the full quiet period before it finishes.
            let end = max(start + Double(durationMs), lastSent + Double(quietMs))
            try await context.clock.sleep(until: .microseconds(Int((end * 1000).rounded(.up))))
        }
    }
}

/// What one `debounce-throttle` pipeline emitted, and when its consumer received it.
final class DebounceThrottleLog: Sendable {
    struct Emission: Sendable {
        let value: Int
        let atMs: Double
    }

    let pipeline: String
    let counter: String
    private let emitted = Locked([Emission]())

    init(pipeline: String, counter: String) {
        self.pipeline = pipeline
        self.counter = counter
    }

    var emissions: [Emission] { emitted.value }

    /// Receives every emission; each is timed by `decidedAt` when the operator can say when
    /// it decided to emit, else at its receipt.
    func consume<Sequence: AsyncSequence>(
        _ sequence: Sequence, id: Int, _ context: RunContext, decidedAt: @Sendable () -> Double? = { nil }
    ) async throws where Sequence.Element == Int {
        try await context.task(id, label: "\(pipeline)-consumer", countsAsProgress: false) {
            var iterator = sequence.makeAsyncIterator()
            while let value = try await iterator.next(isolation: #isolation) {
                let now = decidedAt() ?? context.elapsedMs()
                let count = emitted.withLock { emitted -> Int in
                    emitted.append(Emission(value: value, atMs: now))
                    return emitted.count
                }
                context.emit("\(pipeline).emitted", ["task": .int(id), "value": .int(value), counter: .int(count)])
            }
        }
    }
}
