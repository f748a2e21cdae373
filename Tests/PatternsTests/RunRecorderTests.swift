import Patterns
import Testing
import TestSupport

@Suite struct RunRecorderTests {
    /// An event that advances progress goes to the sink with the progress event when one is
    /// due (one append), alone when none is; past the event cap, the progress alone.
    @Test func eventAdvancingProgress_isAppendedWithItsProgress_whenOneIsDue() {
        let clock = VirtualClock()  // stands still: every call is at 0 ms
        let sink = CollectingSink()
        let recorder = RunRecorder(clock: clock.runClock, sink: sink, eventCap: 3)
        recorder.setTotal(5)
        for n in 0..<5 { recorder.event("tick", ["n": .int(n)], advancingProgressBy: 1) }
        // 1st: progress due (none yet); 2nd, 3rd: within the interval; the cap (3) then drops
        // the 4th tick, whose progress is not due; the 5th completes the total: due.
        #expect(sink.appends == [["tick", "progress"], ["tick"], ["tick"], ["progress"]])
        #expect(sink.events.filter { $0.name == "progress" }.compactMap { $0.data["completed"]?.intValue } == [1, 5])
        #expect(recorder.eventsDropped == 2)
    }

    /// Tasks finishing on many threads at once: a progress event never counts more tasks than
    /// have announced their end before it, progress never goes backwards in the log, and the
    /// last one counts every task.
    @Test func progress_neverRunsAheadOfTheTaskEndsItCounts() async {
        let sink = CollectingSink()
        let recorder = RunRecorder(
            clock: RunClock(ContinuousClock()) { _ in }, sink: sink, progressInterval: .zero)
        let total = 2_000
        recorder.setTotal(total)
        await withDiscardingTaskGroup { group in
            for task in 0..<total {
                group.addTask { recorder.finishTask(recorder.startTask(task), outcome: .ok) }
            }
        }
        var ended = 0
        var lastProgress = 0
        for event in sink.events {
            if event.name == "task.finished" { ended += 1 }
            if event.name == "progress", let completed = event.data["completed"]?.intValue {
                #expect(completed <= ended, "progress \(completed) after \(ended) task ends")
                #expect(completed > lastProgress, "progress \(completed) after \(lastProgress)")
                lastProgress = completed
            }
        }
        #expect(ended == total)
        #expect(sink.events.last { $0.name == "progress" }?.data["completed"] == .int(total))
    }
}
