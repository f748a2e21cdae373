@testable import Runs
import Testing

/// The packed form of a run's events (`EventPack`), as the SQLite store keeps them.
@Suite struct EventPackTests {
    private static let events = [
        StoredEvent(id: 1, name: "run.started", data: Array(#"{"t_ms":0.1}"#.utf8)),
        StoredEvent(id: 2, name: "", data: []),
        StoredEvent(id: 3, name: "é.ü", data: Array(#"{"label":"tâche \"1\"","t_ms":2}"#.utf8)),
        StoredEvent(id: 70_000, name: "run.finished", data: [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)),
    ]

    @Test func events_readBackAsTheyWerePacked() {
        for count in 0...Self.events.count {
            let events = Array(Self.events.prefix(count))
            let packed = EventPack.pack(events)
            #expect(packed.withUnsafeBytes { EventPack.unpack($0) } == events)
        }
    }

    /// A pack cut anywhere short of its end, or of another format, is refused, not read as
    /// fewer or garbled events.
    @Test func aPackCutShort_orOfAnotherFormat_isRefused() {
        let packed = EventPack.pack(Array(Self.events.prefix(3)))
        for length in 0..<packed.count {
            #expect(packed[..<length].withUnsafeBytes { EventPack.unpack($0) } == nil, "cut at \(length)")
        }
        var other = packed
        other[0] = EventPack.format + 1
        #expect(other.withUnsafeBytes { EventPack.unpack($0) } == nil)
        #expect((packed + [0]).withUnsafeBytes { EventPack.unpack($0) } == nil, "a byte past the last event")
    }
}
