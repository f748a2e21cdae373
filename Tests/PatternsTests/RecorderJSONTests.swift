import LabJSON
@testable import Patterns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The recorder writes spans and task events straight into bytes; those bytes must be what
/// the structured values serialise to.
@Suite struct RecorderJSONTests {
    @Test func timelineWrittenFromSpans_isByteForByteTheStructuredOne() {
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<50 {
            let spans = (0..<Int.random(in: 0...200, using: &generator)).map { task in
                let start = Double.random(in: 0..<100_000, using: &generator)
                return Span(
                    task: task, label: trial % 7 == 0 ? "w\"\(task)\n" : "task-\(task)", startMs: start,
                    endMs: start + Double.random(in: 0..<5_000, using: &generator),
                    outcome: SpanOutcome.allCases.randomElement(using: &generator)!)
            }
            let timeline = Timeline(
                spans: spans, truncated: trial % 2 == 0, tasksStarted: spans.count + trial,
                outcomes: [.ok: trial, .timeout: spans.count])
            let expected = timeline.structuredJSON.serializedBytes()
            #expect(timeline.serializedJSON.bytes == expected)
            // Written in parts on several threads (a large timeline's way), the bytes are the same.
            for parts in [2, 3, 7, 500] {
                #expect(timeline.serialized(parts: parts).bytes == expected, "\(spans.count) spans in \(parts) parts")
            }
        }
    }

    @Test func aTimelineIsWrittenInPartsOnlyWhenEachPartIsLarge() {
        #expect(Timeline.parts(forSpans: 0) == 1)
        #expect(Timeline.parts(forSpans: Timeline.spansPerPart * 2 - 1) == 1)
        // Large: one part per online core, at most 4.
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #expect(Timeline.parts(forSpans: 1_000_000) == max(1, min(cores, 4)))
        #expect(Timeline.parts(forSpans: Timeline.spansPerPart * 2) == min(max(1, cores), 2))
    }

    /// `event(_:integers:)` places `t_ms` among the keys itself: before, between and after.
    @Test func integerEvents_writtenDirectly_areTheDictionaryOnesByteForByte() {
        for now in [0.0, 12.34, 1e6 + 0.25] {
            let cases: [(KeyValuePairs<StaticString, Int>, JSONValue)] = [
                (["results": 3, "task": 7], ["results": .int(3), "task": .int(7), "t_ms": .milliseconds(now)]),
                (["a": -1], ["a": .int(-1), "t_ms": .milliseconds(now)]),
                (["u": 0, "z": 9], ["u": .int(0), "z": .int(9), "t_ms": .milliseconds(now)]),
                ([:], ["t_ms": .milliseconds(now)]),
            ]
            for (integers, expected) in cases {
                #expect(RunRecorder.stamped(integers: integers, at: now).bytes == expected.serializedBytes())
            }
        }
    }

    @Test func taskEvents_writtenDirectly_areTheDictionaryOnesByteForByte() {
        for (task, label, now, duration) in [(0, "task-0", 0.0, 0.04), (7, "w\"7", 123.456, 99.95), (12_345, "é", 1e6 + 0.25, 3.0)] {
            let started: JSONValue = ["task": .int(task), "label": .string(label), "t_ms": .milliseconds(now)]
            #expect(RunRecorder.taskEventData(task, label, at: now).bytes == started.serializedBytes())
            var finished = started.objectValue ?? [:]
            finished["duration_ms"] = .milliseconds(duration)
            #expect(
                RunRecorder.taskEventData(task, label, at: now, durationMs: duration).bytes
                    == JSONValue.object(finished).serializedBytes())
        }
    }
}
