/// A run's events as one value, the way the SQLite store keeps them (`run_events.data`).
///
/// Why one value per run, not a row per event: events are written once, when the run has
/// ended, and only ever read back whole (a replay). A gather of 10,000 tasks has 30,000 events;
/// inserted as rows, each was a B-tree descent and an index entry, and storing a run took
/// about 30 ms of CPU, more than running it. Packed, it is one row whose bytes are copied.
///
/// Layout: the format byte `1` and the number of events (4 bytes), then per event, in id order:
/// its id (8 bytes), the length of its name and of its data (4 bytes each), then the name's and
/// the data's bytes. Numbers are little-endian. The count makes a pack cut short at an event's
/// boundary tell itself from a shorter run's.
enum EventPack {
    static let format: UInt8 = 1
    private static let headerBytes = 16

    static func pack(_ events: [StoredEvent]) -> [UInt8] {
        var size = 5
        for event in events { size += headerBytes + event.name.utf8.count + event.data.count }
        var pack = Builder(capacity: size)
        for event in events {
            var name = event.name
            name.withUTF8 { name in
                event.data.withUnsafeBytes { data in pack.append(id: event.id, name: UnsafeRawBufferPointer(name), data: data) }
            }
        }
        return pack.finish()
    }

    /// A pack written one event at a time, from bytes that need not outlive the call (the
    /// migration reads them straight from SQLite's rows).
    struct Builder {
        private var bytes: [UInt8]
        private var count: UInt32 = 0

        init(capacity: Int = 5) {
            bytes = [format, 0, 0, 0, 0]
            bytes.reserveCapacity(capacity)
        }

        mutating func append(id: Int, name: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) {
            withUnsafeBytes(of: Int64(id).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(name.count).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(data.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: name)
            bytes.append(contentsOf: data)
            count += 1
        }

        /// The pack, its event count written in.
        consuming func finish() -> [UInt8] {
            withUnsafeBytes(of: count.littleEndian) { counted in
                for index in 0..<4 { bytes[1 + index] = counted[index] }
            }
            return bytes
        }
    }

    /// The events in `bytes`; nil when they are not a pack this build reads (another format,
    /// or cut short).
    static func unpack(_ bytes: UnsafeRawBufferPointer) -> [StoredEvent]? {
        guard bytes.count >= 5, bytes.first == format else { return nil }
        let count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
        var events: [StoredEvent] = []
        events.reserveCapacity(min(count, bytes.count / headerBytes))
        var offset = 5
        while events.count < count {
            guard bytes.count - offset >= headerBytes else { return nil }
            let id = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            let nameCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
            let dataCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
            offset += headerBytes
            let rest = bytes.count - offset
            guard nameCount <= rest, dataCount <= rest - nameCount else { return nil }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + nameCount]), as: UTF8.self)
            offset += nameCount
            let data = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + dataCount]))
            offset += dataCount
            events.append(StoredEvent(id: Int(id), name: name, data: data))
        }
        return offset == bytes.count ? events : nil
    }
}
