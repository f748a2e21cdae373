import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Request ids: the client's `X-Request-Id` when it is sane, otherwise a fresh one.
///
/// A generated id is a random 6-hex-digit prefix chosen per server plus a counter in 8 hex
/// digits (`3fa9c2-0000001a`): unique within a run, distinguishable across restarts, and 15
/// bytes, which Swift stores inline, so making one allocates nothing.
///
/// Each thread takes numbers from the shared counter in blocks of `blockSize` and hands them
/// out one by one: the counter's cache line moves between cores once per block, where two
/// workers adding to it on every request cost about 1% of GET /healthz's throughput. So the
/// numbers of one thread rise one by one; those of different threads interleave by block.
final class RequestIDGenerator: Sendable {
    /// The longest client-supplied id accepted as is.
    static let maximumLength = 128
    /// Numbers a thread takes from the counter at once.
    static let blockSize: UInt32 = 256

    private let prefix = UInt32.random(in: 0..<(1 << 24))
    private let counter = Atomic<UInt32>(0)
    /// Tells this generator's blocks from those of an earlier one (tests start many servers,
    /// and a thread keeps one block at a time, whichever generator it came from).
    private let serial = RequestIDGenerator.serials.wrappingAdd(1, ordering: .relaxed).newValue
    private static let serials = Atomic<UInt64>(0)

    /// A thread's current block: numbers `next..<end` of generator `serial`.
    private struct Block {
        var serial: UInt64 = 0
        var next: UInt32 = 0
        var end: UInt32 = 0
    }

    /// Where each thread keeps its block (freed when the thread ends).
    private static let blockKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, { $0?.deallocate() }) == 0, "pthread_key_create")
        return key
    }()

    /// The next number for the calling thread: from its block, or from a new block when the
    /// block is used up or was taken from another generator.
    private func nextNumber() -> UInt32 {
        let block: UnsafeMutablePointer<Block>
        if let stored = pthread_getspecific(Self.blockKey) {
            block = stored.assumingMemoryBound(to: Block.self)
        } else {
            block = UnsafeMutablePointer<Block>.allocate(capacity: 1)
            block.initialize(to: Block())
            pthread_setspecific(Self.blockKey, block)
        }
        if block.pointee.serial != serial || block.pointee.next == block.pointee.end {
            // Numbers start at 1; the block's end wraps with the counter.
            let start = counter.wrappingAdd(Self.blockSize, ordering: .relaxed).oldValue &+ 1
            block.pointee = Block(serial: serial, next: start, end: start &+ Self.blockSize)
        }
        defer { block.pointee.next &+= 1 }
        return block.pointee.next
    }

    /// The client's id if it is acceptable, otherwise a new one.
    func id(echoing clientID: String?) -> String {
        if let clientID, RequestIDGenerator.isAcceptable(clientID) { return clientID }
        return next()
    }

    /// Written digit by digit into the string's own storage: this runs once per request on the
    /// fast path, where formatting and concatenating strings cost more than the rest of it.
    func next() -> String {
        let number = nextNumber()
        let prefix = prefix
        return String(unsafeUninitializedCapacity: 15) { bytes in
            for index in 0..<6 { bytes[index] = Self.hexDigit(prefix >> (20 - 4 * index)) }
            bytes[6] = UInt8(ascii: "-")
            for index in 0..<8 { bytes[7 + index] = Self.hexDigit(number >> (28 - 4 * index)) }
            return 15
        }
    }

    /// 1 to 128 visible ASCII characters (no spaces or controls): safe to echo in a header and
    /// to write in a log line.
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= maximumLength else { return false }
        return utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    private static func hexDigit(_ value: UInt32) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0xF)
        return nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
