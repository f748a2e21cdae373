import Foundation
import Patterns
@testable import Runs
import Testing

/// The store's write buffer as a state machine: what each transition leaves to read and to write.
@Suite struct WriteBufferTests {
    private var runs = RunFactory()

    private func ids(_ take: WriteBuffer.Take) -> [String]? {
        if case .batch(let batch) = take { batch.map(\.record.id) } else { nil }
    }

    @Test mutating func aLaterSave_replacesTheRecord_butKeepsEventsItDoesNotCarry() {
        let buffer = WriteBuffer(maxPendingRuns: 10)
        let ended = RunFactory.ended(runs.started())
        let events = RunFactory.events(of: ended)
        buffer.enqueue(PendingSave(record: ended, events: events))
        var corrected = ended
        corrected.error = "corrected"
        buffer.enqueue(PendingSave(record: corrected, events: nil))
        #expect(buffer.lookup(ended.id)?.record.error == "corrected")
        #expect(buffer.lookup(ended.id)?.events == events)
    }

    @Test mutating func savesMadeDuringAFailedWrite_stayOnTopOfIt() throws {
        let buffer = WriteBuffer(maxPendingRuns: 10)
        let started = runs.started()
        buffer.enqueue(PendingSave(record: started, events: nil))
        #expect(ids(buffer.takeBatch()) == [started.id])
        #expect(buffer.lookup(started.id)?.record.status == .running)  // in flight, still readable

        let ended = RunFactory.ended(started)
        let events = RunFactory.events(of: ended)
        buffer.enqueue(PendingSave(record: ended, events: events))  // while the write runs
        #expect(buffer.lookup(started.id)?.record.status == .succeeded)
        buffer.finishBatch(committed: false, error: RunStoreError(kind: .diskFull, path: "x", detail: "full"))

        let retry = buffer.takeBatch()
        guard case .batch(let batch) = retry else {
            Issue.record("expected the failed run back in a batch, got \(retry)")
            return
        }
        #expect(batch.map(\.record.status) == [.succeeded])
        #expect(batch.first?.events == events)
        #expect(buffer.statistics.lastWriteError?.kind == .diskFull)
    }

    @Test mutating func oneDrainerAtATime_andACommittedBatchLeavesTheBuffer() {
        let buffer = WriteBuffer(maxPendingRuns: 10)
        let first = runs.started()
        buffer.enqueue(PendingSave(record: first, events: nil))
        #expect(ids(buffer.takeBatch()) == [first.id])
        let second = runs.started()
        buffer.enqueue(PendingSave(record: second, events: nil))
        guard case .busy = buffer.takeBatch() else {
            Issue.record("a second batch was handed out while one is in flight")
            return
        }
        buffer.finishBatch(committed: true, error: nil)
        #expect(buffer.lookup(first.id) == nil)
        #expect(ids(buffer.takeBatch()) == [second.id])
        buffer.finishBatch(committed: true, error: nil)
        guard case .empty = buffer.takeBatch() else {
            Issue.record("nothing should be pending")
            return
        }
        #expect(buffer.statistics.runsWritten == 2)
    }

    @Test mutating func flush_waitsForTheAttemptThatTakesWhatWasPendingAtItsCall() {
        let buffer = WriteBuffer(maxPendingRuns: 10)
        #expect(buffer.flushTarget() == nil)  // nothing to wait for
        buffer.enqueue(PendingSave(record: runs.started(), events: nil))
        _ = buffer.takeBatch()  // attempt 1 in flight
        buffer.enqueue(PendingSave(record: runs.started(), events: nil))
        let target = buffer.flushTarget()
        #expect(target == 2)  // attempt 1 does not carry the second save
        guard case .wait = buffer.flushStep(toward: 2) else {
            Issue.record("flush should wait for the attempt in flight")
            return
        }
        buffer.finishBatch(committed: true, error: nil)
        guard case .drain(let batch) = buffer.flushStep(toward: 2) else {
            Issue.record("flush should write the second save itself")
            return
        }
        #expect(batch.count == 1)
        buffer.finishBatch(committed: false, error: nil)
        guard case .done = buffer.flushStep(toward: 2) else {
            Issue.record("a failed attempt still ends the flush")
            return
        }
    }

    @Test mutating func pastMaxPendingRuns_theOldestAreDropped_andCounted() {
        let buffer = WriteBuffer(maxPendingRuns: 3)
        let saved = (0..<5).map { _ in runs.started() }
        for record in saved { buffer.enqueue(PendingSave(record: record, events: nil)) }
        #expect(Set(buffer.snapshot().keys) == Set(saved.suffix(3).map(\.id)))
        #expect(buffer.statistics.droppedRuns == 2)
        #expect(buffer.statistics.pendingRuns == 3)
    }
}
