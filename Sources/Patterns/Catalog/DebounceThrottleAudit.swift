import LabJSON

/// The `debounce-throttle` run's checks, from the times events were sent and received.
struct DebounceThrottleAudit {
    let schedule: BurstSchedule
    let debounceMs: Int
    let throttleMs: Int
    let debounced: [DebounceThrottleLog.Emission]
    let throttled: [DebounceThrottleLog.Emission]
    let sourceTimes: [Double]
    /// When debounce received each event, by value.
    let receiptTimes: [Int: Double]

    /// Each burst is one burst to debounce: its events closer than the interval, the
    /// silence after it longer.
    private var burstsAreBursts: Bool { schedule.gapMs < debounceMs && schedule.quietMs > debounceMs }

    var outcome: PatternOutcome {
        var checks: [Check] = []
        if burstsAreBursts { checks.append(lastOfEachBurst) }
        if let quiet = quietPeriod { checks.append(quiet) }
        if let spacing = throttleSpacing { checks.append(spacing) }
        let gaps = zip(throttled, throttled.dropFirst()).map { $1.atMs - $0.atMs }
        return PatternOutcome(
            result: [
                "source_events": .int(sourceTimes.count), "debounced": .int(debounced.count), "throttled": .int(throttled.count),
                "burst_ends_as_received": .int(quietAfter.count { $0 >= Double(debounceMs) + Self.toleranceMs }),
                "debounced_values": .array(debounced.prefix(100).map { .int($0.value) }),
                "throttled_values": .array(throttled.prefix(100).map { .int($0.value) }),
                "debounce_shortest_quiet_ms": .milliseconds(quietDelays.min() ?? 0),
                "throttle_shortest_gap_ms": .milliseconds(gaps.min() ?? 0),
            ],
            checks: checks)
    }

    /// Judged against the stream as debounce received it, not as it was planned: events a
    /// busy machine delivered late did leave a quiet period, and debounce rightly ends the
    /// burst there. Every emitted event must have been followed by at least the interval of
    /// quiet (less `toleranceMs`), each emitted once. Whether every such event came out is a
    /// figure, not a check: on a starved machine debounce's own task can wake after the next
    /// event and rightly pass that one on instead. (On the manual clock the tests pin the
    /// exact list.)
    private var lastOfEachBurst: Check {
        let emitted = debounced.map(\.value)
        let may = Set(quietAfter.indices.filter { quietAfter[$0] >= Double(debounceMs) - Self.toleranceMs })
        let passed = Set(emitted).count == emitted.count && Set(emitted).isSubset(of: may)
        return Check(
            name: "debounce_emits_only_last_of_each_burst",
            expected: "only events followed by >= \(debounceMs) ms of quiet as received, each once",
            observed: .array(emitted.prefix(20).map(JSONValue.int)), passed: passed)
    }

    /// For each event, the quiet after it as debounce received the events (infinite after
    /// the last).
    private var quietAfter: [Double] {
        let received = (0..<sourceTimes.count).map { receiptTimes[$0] ?? .infinity }
        return received.indices.map { index in
            index + 1 < received.count ? received[index + 1] - received[index] : .infinity
        }
    }

    /// How near the interval a gap counts as too close to call: the time between debounce's
    /// receipt (noted by the wrapper) and its own clock read, on a real clock.
    static let toleranceMs = 1.0

    /// For each debounced event: the time from debounce's receipt of it to its emission.
    private var quietDelays: [Double] {
        debounced.compactMap { emission in receiptTimes[emission.value].map { emission.atMs - $0 } }
    }

    private var quietPeriod: Check? {
        guard let shortest = quietDelays.min() else { return nil }
        return .atLeastMs("debounce_quiet_period_at_least_interval", observedMs: shortest, minimumMs: Double(debounceMs))
    }

    private var throttleSpacing: Check? {
        let gaps = zip(throttled, throttled.dropFirst()).map { $1.atMs - $0.atMs }
        guard let shortest = gaps.min() else { return nil }
        return .atLeastMs("throttle_at_most_one_per_interval", observedMs: shortest, minimumMs: Double(throttleMs))
    }
}
