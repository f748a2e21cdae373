import LabJSON

/// The `rate-limiter` run's figures and checks, from the admissions and bucket reads the
/// limiter logged.
struct RateLimiterAudit {
    let ratePerS: Int
    let burst: Int
    let admissions: [RateLimiterGate.Admission]
    let reads: [RateLimiterGate.Read]

    var outcome: PatternOutcome {
        let times = admissions.map(\.atMs)
        let worst = TokenBucket.worstWindowCount(admissionsMs: times, ratePerMs: Double(ratePerS) / 1000)
        let outOfOrder = zip(admissions, admissions.dropFirst()).count { $0.ticket > $1.ticket }
        let replay = replayed
        var result: [String: JSONValue] = [
            "admitted": .int(admissions.count), "worst_window_excess": .double(rounded(worst, 1000)),
            "out_of_order": .int(outOfOrder), "rate_per_s": .int(ratePerS), "burst": .int(burst),
            "bucket_reads": .int(reads.count), "reads_unlike_the_bucket": .int(replay.disagreements),
            "tokens_lost_to_cap": .double(rounded(replay.lostToCap, 100)),
            "latest_wakeup_ms": .double(rounded(latestWakeupMs, 1000)),
        ]
        if let throughput = pacedThroughput { result["throughput_per_s"] = .double(rounded(throughput, 10)) }
        let checks = [
            Check(
                name: "admitted_within_burst_plus_rate_in_every_window",
                expected: "<= \(burst) (burst) beyond rate * w in every window",
                observed: .double(rounded(worst, 1000)), passed: worst <= Double(burst) + 1e-6),
            Check(
                name: "served_first_come_first_served", expected: "0 admissions out of arrival order",
                observed: .int(outOfOrder), passed: outOfOrder == 0),
            Check(
                name: "every_token_used_while_calls_waited",
                expected: "0 reads whose admission or wake-up differs from a \(ratePerS)/s bucket of \(burst) replayed at the same instants",
                observed: .int(replay.disagreements), passed: replay.disagreements == 0),
        ]
        return PatternOutcome(result: result, checks: checks)
    }

    /// A token bucket of the configured rate and burst, replayed over the instants the
    /// limiter read its own: every read is on behalf of a waiting call, so it must admit
    /// exactly when the replay has a token, and else ask to wake by the replay's next token
    /// (rounded up to the microsecond, as the limiter sleeps). Also the tokens the replay
    /// dropped at its cap while calls waited: what late wake-ups cost.
    private var replayed: (disagreements: Int, lostToCap: Double) {
        var bucket = TokenBucket(ratePerS: Double(ratePerS), burst: burst)
        var disagreements = 0
        var lost = 0.0
        // From the first read: the full bucket kept nothing for calls not yet there.
        var lastMs = reads.first?.atMs ?? 0
        for read in reads {
            lost += max(0, bucket.tokens + (read.atMs - lastMs) * bucket.ratePerMs - bucket.burst)
            lastMs = max(lastMs, read.atMs)
            let waitMs = bucket.take(atMs: read.atMs)
            switch (waitMs, read.admitted, read.wakeAtMs) {
            case (nil, true, _): continue
            case (let waitMs?, false, let wakeAtMs?):
                let nextTokenMs = ((read.atMs + waitMs) * 1000).rounded(.up) / 1000
                if wakeAtMs > nextTokenMs { disagreements += 1 }
            default: disagreements += 1
            }
        }
        return (disagreements, lost)
    }

    /// How long after the time it asked for the dispatcher's latest wake-up came.
    private var latestWakeupMs: Double {
        zip(reads, reads.dropFirst()).reduce(0.0) { latest, pair in
            guard let asked = pair.0.wakeAtMs else { return latest }
            return max(latest, pair.1.atMs - asked)
        }
    }

    /// Calls per second after the burst, when demand outran it: the paced calls over the
    /// time from the first admission to the last (every call is queued at the start, so the
    /// queue only runs dry at the end).
    private var pacedThroughput: Double? {
        guard admissions.count > burst + 1, let first = admissions.first, let last = admissions.last,
            last.atMs > first.atMs
        else { return nil }
        return Double(admissions.count - burst) / (last.atMs - first.atMs) * 1000
    }

    private func rounded(_ value: Double, _ scale: Double) -> Double { (value * scale).rounded() / scale }
}
