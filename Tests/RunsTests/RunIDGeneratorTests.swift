import Runs
import Testing

@Suite struct RunIDGeneratorTests {
    @Test func idsSortByCreation_evenWithinOneMillisecond() {
        let generator = RunIDGenerator()
        var ids: [String] = []
        for millis: UInt64 in [1_000, 1_000, 1_000, 1_001, 1_001, 999] {
            ids.append(generator.next(millisecondsSinceEpoch: millis))
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(RunIDGenerator.isWellFormed))
    }

    @Test func malformedIDs_areRecognised() {
        #expect(!RunIDGenerator.isWellFormed("short"))
        #expect(!RunIDGenerator.isWellFormed("01ARZ3NDEKTSV4RRFFQ69G5FA!"))
        #expect(!RunIDGenerator.isWellFormed("../../etc/passwd00000000000"))
    }
}
