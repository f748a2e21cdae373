import Patterns
import Testing
import TestSupport

@Suite struct RunRecorderTests {
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
