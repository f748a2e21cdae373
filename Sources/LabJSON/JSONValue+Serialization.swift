/// A direct JSON writer. It is on the hot path of every event a run emits, so it appends
/// UTF-8 into one buffer instead of going through `JSONEncoder`; object keys are sorted so
/// the same value always serialises to the same bytes.
extension JSONValue {
    /// One-line JSON (no newlines anywhere), as an SSE `data:` line needs.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(into: &out)
        return out
    }

    /// Indented JSON for people (the CLI's output); keys sorted like `serialized()`.
    public func prettySerialized(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let closingPad = String(repeating: "  ", count: indent)
        switch resolved {
        case .array(let values) where !values.isEmpty:
            let items = values.map { pad + $0.prettySerialized(indent: indent + 1) }
            return "[\n" + items.joined(separator: ",\n") + "\n" + closingPad + "]"
        case .object(let members) where !members.isEmpty:
            let items = members.keys.sorted().map { key in
                pad + JSONValue.string(key).serialized() + ": " + members[key]!.prettySerialized(indent: indent + 1)
            }
            return "{\n" + items.joined(separator: ",\n") + "\n" + closingPad + "}"
        default:
            return serialized()
        }
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): Self.writeInteger(value, into: &out)
        case .double(let value): Self.writeNumber(value, into: &out)
        case .string(let value): Self.writeString(value, into: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            Self.writeObject(members, into: &out)
        case .serialized(let serialized):
            out.append(contentsOf: serialized.bytes)
        }
    }

    /// Members in key order (plus `extra`, when given: an event's `t_ms`, written without
    /// inserting it into a dictionary first). Runs are full of small objects (a span has five
    /// members, an event three or four): those are copied to a stack buffer and insertion-
    /// sorted there, with no allocation and no hash lookup. A key given twice is written once,
    /// with its last value (`extra` last of all), as a dictionary would keep it.
    @inlinable
    public static func writeObject<Members: Collection>(
        _ members: Members, extra: (key: String, value: JSONValue)? = nil, into out: inout [UInt8]
    ) where Members.Element == (key: String, value: JSONValue) {
        let count = members.count + (extra == nil ? 0 : 1)
        out.append(UInt8(ascii: "{"))
        guard count <= 16 else {
            let unique = Dictionary(Array(members) + (extra.map { [$0] } ?? []), uniquingKeysWith: { _, last in last })
            for (index, member) in unique.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeMember(member.key, member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
            return
        }
        withUnsafeTemporaryAllocation(of: (key: String, value: JSONValue).self, capacity: count) { buffer in
            guard let base = buffer.baseAddress else { return }
            var filled = 0
            for member in members {
                (base + filled).initialize(to: member)
                filled += 1
            }
            if let extra {
                (base + filled).initialize(to: extra)
                filled += 1
            }
            defer { base.deinitialize(count: filled) }
            var next = 1
            while next < filled {
                var position = next
                while position > 0 && buffer[position].key < buffer[position - 1].key {
                    buffer.swapAt(position, position - 1)
                    position -= 1
                }
                next += 1
            }
            // The sort is stable: of members with the same key, the last given is last.
            var wrote = false
            for position in 0..<filled {
                if position + 1 < filled && buffer[position + 1].key == buffer[position].key { continue }
                if wrote { out.append(UInt8(ascii: ",")) }
                wrote = true
                writeMember(buffer[position].key, buffer[position].value, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    @usableFromInline
    static func writeMember(_ key: String, _ value: JSONValue, into out: inout [UInt8]) {
        writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
        value.write(into: &out)
    }

    /// Decimal digits straight into `out` (no intermediate `String`), through a stack buffer
    /// (`ReservedJSONWriter.int`, the one place integers are formatted).
    public static func writeInteger(_ value: Int, into out: inout [UInt8]) {
        writeFormatted(into: &out, bound: ReservedJSONWriter.maxIntegerBytes) { $0.int(value) }
    }

    /// Numbers as Swift's shortest round-trip `description` writes them, with a fast path for
    /// what runs are full of (timestamps in tenths of a millisecond, ratios in thousandths):
    /// see `ReservedJSONWriter.number`, the one place numbers are formatted.
    public static func writeNumber(_ value: Double, into out: inout [UInt8]) {
        writeFormatted(into: &out, bound: ReservedJSONWriter.maxNumberBytes) { $0.number(value) }
    }

    private static func writeFormatted(into out: inout [UInt8], bound: Int, _ format: (inout ReservedJSONWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buffer in
            var writer = ReservedJSONWriter(base: buffer.baseAddress!, capacity: bound)
            format(&writer)
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: writer.count))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Strings without anything to escape (keys, labels, ids: nearly all of them) are copied
    /// in one go; the byte-by-byte escaping runs only for the rest.
    public static func writeString(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
