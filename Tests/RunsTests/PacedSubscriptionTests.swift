import LabJSON
import Patterns
import Runs
import Testing

/// Pacing on a virtual clock: when each batch goes out is exact.
@Suite struct PacedSubscriptionTests {
    /// A finished log whose events happened at these `t_ms` (nil: an event without one).
    private func log(at times: [Double?]) -> EventLog {
        EventLog(finishedWith: times.enumerated().map { index, time in
            let data: JSONValue = time.map { ["t_ms": .milliseconds($0), "n": .int(index)] } ?? ["n": .int(index)]
            return StoredEvent(id: index + 1, name: "e", data: data.serializedBytes())
        })
    }

    /// Reads `log` at `pace` to the end; each batch as "clock ms: ids".
    private func deliveries(_ log: EventLog, pace: Double, after: Int = 0) async throws -> [String] {
        let clock = VirtualClock()
        let executor = try VirtualExecutor(clock: clock)
        return await Task(executorPreference: executor) {
            defer { executor.shutdown() }
            var feed = PacedSubscription(log.subscribe(after: after), pace: pace, clock: clock.runClock)
            var seen: [String] = []
            while case .events(let batch) = await feed.next(batchLimit: 256) {
                seen.append("\(clock.now.offset.milliseconds): \(batch.map(\.id))")
                #expect(feed.lastDeliveredID == batch.last?.id)
            }
            return seen
        }.value
    }

    @Test func events_goOutAtTheirTimeTimesThePace() async throws {
        let events = log(at: [0, 0, 100, 250, 250])
        #expect(try await deliveries(events, pace: 0.5) == ["0.0: [1, 2]", "50.0: [3]", "125.0: [4, 5]"])
        #expect(try await deliveries(events, pace: 2) == ["0.0: [1, 2]", "200.0: [3]", "500.0: [4, 5]"])
        #expect(try await deliveries(events, pace: 1) == ["0.0: [1, 2]", "100.0: [3]", "250.0: [4, 5]"])
    }

    /// A resumed stream keeps the pace from where it resumed, not from the run's start.
    @Test func resumedStream_pacesFromItsFirstEvent() async throws {
        let events = log(at: [0, 1_000, 1_300, 1_400])
        #expect(try await deliveries(events, pace: 1, after: 1) == ["0.0: [2]", "300.0: [3]", "400.0: [4]"])
    }

    @Test func eventWithoutATime_goesOutAtOnce() async throws {
        let events = log(at: [0, nil, 400])
        #expect(try await deliveries(events, pace: 1) == ["0.0: [1, 2]", "400.0: [3]"])
    }
}
