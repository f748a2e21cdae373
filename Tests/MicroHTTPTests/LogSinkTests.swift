import Foundation
import Synchronization
import Testing

@testable import MicroHTTP

#if canImport(Glibc)
import Glibc
#endif

/// The batched stderr sink, written into a temporary file: each thread appends to a buffer of
/// its own, and a flush writes them all.
@Suite("Log sink")
struct LogSinkTests {
    /// An unlinked temporary file the sink writes into; `contents` reads it from the start.
    final class Sink: Sendable {
        let descriptor: Int32
        let sink: LogSink

        init() {
            var template = Array("/tmp/logsink-XXXXXX".utf8CString)
            descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            precondition(descriptor >= 0, "mkstemp")
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            // The writer thread wakes once a minute: the tests flush themselves.
            sink = LogSink(interval: .seconds(60), descriptor: descriptor)
        }

        deinit { close(descriptor) }

        var lines: [String] {
            let size = Int(lseek(descriptor, 0, SEEK_END))
            var bytes = [UInt8](repeating: 0, count: size)
            let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, size, 0) }
            return String(decoding: bytes[..<max(read, 0)], as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    /// Four threads append 3,000 lines each, past the 64 KiB that makes a buffer write itself
    /// out: every line arrives once and whole, and each thread's lines in the order it wrote them.
    @Test func linesFromManyThreads_allArriveWhole_eachThreadsInOrder() {
        let file = Sink()
        let threads = 4, perThread = 3_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for sequence in 0..<perThread {
                file.sink.append("thread=\(thread) line=\(sequence) padding=................\n", urgent: false)
            }
        }
        file.sink.flush()
        var next = [Int](repeating: 0, count: threads)
        var malformed = 0
        for line in file.lines {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let thread = Int(fields[0].dropFirst(7)), let sequence = Int(fields[1].dropFirst(5)),
                (0..<threads).contains(thread), sequence == next[thread]
            else {
                malformed += 1
                continue
            }
            next[thread] += 1
        }
        #expect(malformed == 0)
        #expect(next == [Int](repeating: perThread, count: threads))
    }

    /// An urgent line (notice and above) is written at once, with whatever was waiting before
    /// it on its thread; without one, nothing is written until a flush.
    @Test func anUrgentLine_writesAtOnce_andALowerOneWaits() {
        let file = Sink()
        file.sink.append("info line\n", urgent: false)
        #expect(file.lines.isEmpty)
        file.sink.append("notice line\n", urgent: true)
        #expect(file.lines == ["info line", "notice line"])
    }

    /// A thread's lines wait in its ring after it has ended: the next flush writes them, then
    /// lets the ring go (threads come and go: offload threads, the runtime's pool).
    @Test func anEndedThreadsLines_areWritten_andItsRingLetGo() {
        let file = Sink()
        file.sink.append("from this thread\n", urgent: false)
        let before = file.sink.ringCount
        let thread = Thread {
            file.sink.append("from a thread that ends\n", urgent: false)
            file.sink.append("its second line\n", urgent: false)
        }
        thread.start()
        // The ring is retired by the thread's key destructor, after its block returned: wait
        // for that (at most ten seconds on a busy machine), not for the block.
        var retired = false
        for _ in 0..<5_000 where !retired {
            retired = file.sink.retiredRingCount == 1
            if !retired { usleep(2_000) }
        }
        #expect(retired)
        #expect(file.sink.ringCount == before + 1)
        file.sink.flush()
        #expect(file.lines == ["from this thread", "from a thread that ends", "its second line"])
        #expect(file.sink.ringCount == before)
    }

    /// A line longer than a thread's whole ring is written by itself, after the lines before
    /// it, and the ring goes on taking lines.
    @Test func aLineLongerThanTheRing_isWrittenWhole_inOrder() {
        let file = Sink()
        file.sink.append("before\n", urgent: false)
        let long = String(repeating: "x", count: LogSink.Ring.capacity + 100) + "\n"
        file.sink.append(long, urgent: false)
        file.sink.append("after\n", urgent: false)
        file.sink.flush()
        let lines = file.lines
        #expect(lines.count == 3)
        #expect(lines.first == "before")
        #expect(lines.dropFirst().first?.count == LogSink.Ring.capacity + 100)
        #expect(lines.last == "after")
    }
}
