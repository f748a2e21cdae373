/// The `debounce-throttle` run's checks, from the times events were sent and received.
struct DebounceThrottleAudit {
    let schedule: BurstSchedule
    let debounceMs: Int
    let throttleMs: Int
    let debounced: [DebounceThrottleLog.Emission]
    let throttled: [DebounceThrottleLog.Emission]
    let sourceTimes: [Double]

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
                "debounced_values": .array(debounced.prefix(100).map { .int($0.value) }),
                "throttled_values": .array(throttled.prefix(100).map { .int($0.value) }),
                "debounce_shortest_quiet_ms": .milliseconds(quietDelays.min() ?? 0),
                "throttle_shortest_gap_ms": .milliseconds(gaps.min() ?? 0),
            ],
            checks: checks)
    }

    private var lastOfEachBurst: Check {
        let expected = (0..<schedule.bursts).map { $0 * schedule.size + schedule.size - 1 }
        let observed = debounced.map(\.value)
        return Check(
            name: "debounce_emits_only_last_of_each_burst",
            expected: "\(schedule.bursts) events, each the last of its burst",
            observed: .array(observed.prefix(20).map(JSONValue.int)), passed: observed == expected)
    }

    /// For each debounced event: the time from its sending to its emission.
    private var quietDelays: [Double] {
        debounced.compactMap { emission in
            sourceTimes.indices.contains(emission.value) ? emission.atMs - sourceTimes[emission.value] : nil
        }
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
