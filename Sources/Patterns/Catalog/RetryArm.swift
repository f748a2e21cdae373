import LabJSON

/// One strategy's side of a `retry` run: its clients against a dependency of its own.
struct RetryArm: Sendable {
    /// One backoff sleep as drawn, with the bounds its strategy's formula gives.
    struct Sleep: Sendable {
        let retry: Int
        let drawnMs: Double
        let bounds: ClosedRange<Double>
        var withinBounds: Bool { bounds.contains(drawnMs) }
    }

    /// What one client did.
    struct ClientReport: Sendable {
        var attempts = 0
        var succeeded = false
        var sleeps: [Sleep] = []
        var endMs = 0.0
    }

    /// What the arm did.
    struct Report: Sendable {
        let jitter: Backoff.Jitter
        let index: Int
        let calls: Int
        let succeeded: Int
        let gaveUp: Int
        let mostAttempts: Int
        let completionMs: Double
        let sleeps: [Sleep]

        var json: JSONValue {
            [
                "calls": .int(calls), "succeeded": .int(succeeded), "gave_up": .int(gaveUp),
                "completion_ms": .milliseconds(completionMs), "most_attempts": .int(mostAttempts),
            ]
        }
    }

    let jitter: Backoff.Jitter
    let index: Int
    let setup: RetrySetup
    let dependency: SimulatedDependency

    init(jitter: Backoff.Jitter, index: Int, setup: RetrySetup) {
        self.jitter = jitter
        self.index = index
        self.setup = setup
        var profile = SimulatedDependency.Profile()
        profile.latencyMs = setup.latencyMs
        profile.capacity = setup.capacity
        profile.seed = setup.seed
        dependency = SimulatedDependency(profile)
    }

    private var inFlightKey: String { "in_flight_\(jitter.rawValue)" }
    private var callsKey: String { "calls_\(jitter.rawValue)" }

    func run(_ context: RunContext) async throws -> Report {
        let startMs = context.elapsedMs()
        let clients = try await withThrowingTaskGroup(of: ClientReport.self) { group in
            for client in 0..<setup.clients {
                group.addTask {
                    try await context.task(index * setup.clients + client, label: "\(jitter.rawValue)-\(client)") {
                        try await retry(client, context)
                    }
                }
            }
            var reports: [ClientReport] = []
            for try await report in group { reports.append(report) }
            return reports
        }
        let report = Report(
            jitter: jitter, index: index, calls: dependency.calls, succeeded: clients.count(where: \.succeeded),
            gaveUp: clients.count { !$0.succeeded }, mostAttempts: clients.map(\.attempts).max() ?? 0,
            completionMs: (clients.map(\.endMs).max() ?? startMs) - startMs, sleeps: clients.flatMap(\.sleeps))
        context.recorder.milestone(
            "retry.arm_finished",
            ["strategy": .string(jitter.rawValue), callsKey: .int(report.calls), "completion_ms": .milliseconds(report.completionMs)])
        return report
    }

    /// One client: attempts until one succeeds or `max_attempts` are spent, sleeping the
    /// strategy's backoff between them. The backoff's seed depends on the client only, so
    /// every strategy draws from the same seed.
    private func retry(_ client: Int, _ context: RunContext) async throws -> ClientReport {
        var backoff = Backoff(jitter, baseMs: setup.baseMs, capMs: setup.capMs, seed: setup.seed &* 31 &+ client)
        var report = ClientReport()
        let attempts = setup.maxAttempts + setup.faults.extraAttempts
        for attempt in 0..<attempts {
            report.attempts += 1
            let answer = try await call(client, attempt: attempt, key: client * attempts + attempt, context)
            if answer.succeeded {
                context.emit("retry.succeeded", ["task": task(client), "strategy": strategy, "client": .int(client), "attempts": .int(attempt + 1)])
                report.succeeded = true
                break
            }
            context.emit("retry.failed", ["task": task(client), "strategy": strategy, "client": .int(client), "reason": .string(answer.failure?.rawValue ?? "")])
            guard attempt + 1 < attempts else {
                context.emit("retry.gave_up", ["task": task(client), "strategy": strategy, "client": .int(client), "attempts": .int(attempt + 1)])
                break
            }
            report.sleeps.append(try await backOff(client, retry: attempt, &backoff, context))
        }
        report.endMs = context.elapsedMs()
        return report
    }

    private var strategy: JSONValue { .string(jitter.rawValue) }

    /// The client's row on the timeline: its events carry it as `task`.
    private func task(_ client: Int) -> JSONValue { .int(index * setup.clients + client) }

    private func call(_ client: Int, attempt: Int, key: Int, _ context: RunContext) async throws -> SimulatedDependency.Answer {
        try await dependency.call(
            key: key, clock: context.clock,
            onStart: { call in
                context.emit(
                    "retry.attempt",
                    ["task": task(client), "strategy": strategy, "client": .int(client), "attempt": .int(attempt),
                     inFlightKey: .int(call.inFlight), callsKey: .int(dependency.calls)])
            },
            onEnd: { left in
                context.emit("retry.call_ended", ["task": task(client), "strategy": strategy, inFlightKey: .int(left)])
            })
    }

    /// Draws the sleep before retry `retry`, notes it with its formula's bounds, sleeps it.
    private func backOff(_ client: Int, retry: Int, _ backoff: inout Backoff, _ context: RunContext) async throws -> Sleep {
        let bounds = backoff.bounds(retry: retry, previousMs: backoff.previousMs)
        let drawn = backoff.nextSleepMs(retry: retry) * setup.faults.sleepFactor
        context.emit(
            "retry.backoff",
            ["task": task(client), "strategy": strategy, "client": .int(client), "retry": .int(retry), "sleep_ms": .milliseconds(drawn),
             "min_ms": .milliseconds(bounds.lowerBound), "max_ms": .milliseconds(bounds.upperBound)])
        try await context.clock.sleep(for: .microseconds(Int((drawn * 1000).rounded())))
        return Sleep(retry: retry, drawnMs: drawn, bounds: bounds)
    }
}
