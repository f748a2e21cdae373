import LabJSON
import Patterns
import TestSupport
import Testing

/// The convention of `CounterSpec`, for every pattern of the catalog that declares counters:
/// its events carry each counter, the last value carried equals the result figure of the
/// same name, and the highest equals its `peak_` figure, when the result has them.
@Suite struct CounterConventionTests {
    static let counted = PatternCatalog.builtIn.filter { !$0.counters.isEmpty }.map(\.name)

    @Test func theCatalogsCountingPatterns_declareCounters() {
        for name in ["semaphore", "lock", "event", "gather", "gather-errors", "first-completed", "periodic", "blocking-offload"] {
            #expect(Self.counted.contains(name), "\(name) declares no counter")
        }
    }

    /// The keys every run's own events carry (`progress`, the task events): a counter named like
    /// one would read their values as its own.
    static let commonKeys: Set<String> = ["t_ms", "completed", "total", "task", "label", "duration_ms", "error"]

    @Test(arguments: counted)
    func counterNames_areNotKeysOfTheCommonEvents(name: String) throws {
        let pattern = try #require(PatternCatalog().pattern(named: name))
        for counter in pattern.counters {
            #expect(!Self.commonKeys.contains(counter.name), "\(name): \(counter.name) is a key of the common events")
        }
    }

    @Test(arguments: counted)
    func everyCounter_isCarried_andEndsAtItsFigure(name: String) async throws {
        let pattern = try #require(PatternCatalog().pattern(named: name))
        let run = try await TestRun.execute(pattern)
        #expect(run.failedChecks.isEmpty)
        for counter in pattern.counters {
            let values = run.counterValues(counter.name)
            #expect(!values.isEmpty, "\(name): no event carries \(counter.name)")
            if let figure = run.result[counter.name] {
                #expect(values.last.map(JSONValue.int) == figure, "\(name): \(counter.name) ends at \(values.last ?? -1), the figure is \(figure)")
            }
            if let peak = run.result["peak_\(counter.name)"] {
                #expect(values.max().map(JSONValue.int) == peak, "\(name): the highest \(counter.name) is not peak_\(counter.name)")
            }
        }
    }

    @Test func semaphore_countsWaitersAndHolders_stepByStep() async throws {
        let run = try await TestRun.execute(SemaphorePattern(), ["count": 5, "limit": 2, "delay_ms": 100])
        #expect(run.counterValues("in_flight") == [1, 2, 1, 0, 1, 2, 1, 0, 1, 0])
        #expect(run.counter("waiting", at: 0) == 3)
        #expect(run.counter("in_flight", at: 0) == 2)
        #expect(run.counter("waiting", at: 100) == 1)
        #expect(run.counter("waiting", at: 300) == 0)
        #expect(run.counter("in_flight", at: 300) == 0)
        #expect(run.counterValues("waiting").max() == 3)
    }

    @Test func semaphore_cancelledWaiters_leaveTheWaitingCount() async throws {
        let run = try await TestRun.execute(
            SemaphorePattern(), ["count": 5, "limit": 2, "delay_ms": 100], cancelAt: .milliseconds(150))
        #expect(run.status == .cancelled)
        #expect(run.ints("task", in: "semaphore.abandoned") == [4])
        #expect(run.counter("waiting", at: 150) == 0)
        #expect(run.counter("in_flight", at: 150) == 0)
    }

    @Test func lock_withoutTheLock_showsEveryWorkerInTheSection_andTheLostCounter() async throws {
        let run = try await TestRun.execute(LockPattern(), ["increments": 3, "use_lock": false, "hold_ms": 10])
        #expect(run.counterValues("in_section") == [1, 2, 3, 2, 1, 0])
        #expect(run.counterValues("counter") == [1, 1, 1])
        #expect(run.result["counter"] == 1 && run.result["peak_in_section"] == 3)
    }

    @Test func lock_workersCancelledInTheSection_leaveIt() async throws {
        let run = try await TestRun.execute(
            LockPattern(), ["increments": 3, "use_lock": false, "hold_ms": 10], cancelAt: .milliseconds(5))
        #expect(run.status == .cancelled)
        #expect(run.ints("worker", in: "counter.abandoned") == [0, 1, 2])
        #expect(run.counterValues("in_section").last == 0)
    }

    @Test func event_waitersWaitUntilTheSet_thenProceed() async throws {
        let run = try await TestRun.execute(EventPattern(), ["waiters": 3, "set_after_ms": 100])
        #expect(run.counter("waiting", at: 99) == 3)
        #expect(run.ints("waiting", in: "event.set") == [3])
        #expect(run.counter("waiting", at: 100) == 0)
        #expect(run.counterValues("proceeded") == [1, 2, 3])
        #expect(run.result["proceeded"] == 3)
    }

    @Test func event_cancelledWaiters_leaveTheWaitingCount() async throws {
        let run = try await TestRun.execute(EventPattern(), ["waiters": 3, "set_after_ms": 100], cancelAt: .milliseconds(50))
        #expect(run.status == .cancelled)
        #expect(run.counterValues("waiting").last == 0)
        #expect(run.ints("waiter", in: "event.abandoned") == [0, 1, 2])
    }

    @Test func gatherErrors_withoutReturnExceptions_countsTheCancelledAndEndsAtTheFigures() async throws {
        let run = try await TestRun.execute(
            GatherErrorsPattern(), ["count": 5, "delay_ms": 100, "fail_indices": [1], "return_exceptions": false])
        #expect(run.failedChecks.isEmpty)
        for name in ["succeeded", "failures", "cancelled"] {
            #expect(run.counterValues(name).last.map(JSONValue.int) == run.result[name], "\(name)")
        }
        #expect(run.result["failures"] == 1 && run.result["cancelled"] == 4)
    }

    @Test func firstCompleted_countsTheWinnerAndTheCancelledLosers() async throws {
        let run = try await TestRun.execute(FirstCompletedPattern(), ["delays_ms": [300, 100, 200]])
        #expect(run.counterValues("racers_completed") == [1, 1, 1])
        #expect(run.counterValues("cancelled") == [0, 1, 2])
        #expect(run.result["racers_completed"] == 1 && run.result["cancelled"] == 2)
    }
}
