import Foundation
import Synchronization
import Testing

@testable import MicroHTTP

/// Generated request ids come from per-thread blocks of one counter: they must stay unique
/// within a server whatever the threads, and never repeat across generators sharing a thread.
@Suite("RequestIDGenerator: unique ids from per-thread blocks")
struct RequestIDGeneratorTests {
    private static func number(_ id: String) -> UInt32? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, parts[0].count == 6, parts[1].count == 8 else { return nil }
        return UInt32(parts[1], radix: 16)
    }

    /// Four threads, each past several blocks: every id is well formed and distinct, and each
    /// thread's numbers rise by one within a block.
    @Test func idsFromManyThreads_areDistinct_andRiseWithinABlock() {
        let generator = RequestIDGenerator()
        let perThread = Int(RequestIDGenerator.blockSize) * 3 + 7
        let seen = Mutex<[[String]]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let ids = (0..<perThread).map { _ in generator.next() }
            seen.withLock { $0.append(ids) }
        }
        let all = seen.withLock { $0 }
        let numbers = all.map { $0.compactMap(Self.number) }
        #expect(numbers.allSatisfy { $0.count == perThread })
        #expect(Set(all.joined()).count == 4 * perThread)
        #expect(Set(all.joined().map { $0.prefix(6) }).count == 1)
        for thread in numbers {
            // Within a block a thread's numbers rise by one; a new block starts past the old.
            for (earlier, later) in zip(thread, thread.dropFirst()) { #expect(later > earlier) }
            let steps = zip(thread, thread.dropFirst()).filter { $1 != $0 + 1 }.count
            #expect(steps <= perThread / Int(RequestIDGenerator.blockSize))
        }
        #expect(numbers.joined().min() == 1)
    }

    /// A thread still holding a block of one generator (another server in the process) takes
    /// a block of its own from the next generator it serves: numbers from the first one's block
    /// would come again from the second's counter.
    @Test func aThreadHoldingAnotherGeneratorsBlock_takesItsOwn() {
        let first = RequestIDGenerator(), second = RequestIDGenerator()
        #expect(first.next().hasSuffix("-00000001"))
        let count = Int(RequestIDGenerator.blockSize) + 44
        let ids = (0..<count).map { _ in second.next() }
        #expect(Set(ids).count == count)
        #expect(ids.first?.hasSuffix("-00000001") == true)
        // And back: the first generator takes a new block of its own (its first ended at 256),
        // since the thread now holds the second's.
        #expect(first.next().hasSuffix("-00000101"))
    }
}
