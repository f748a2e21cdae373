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

    /// Decimal digits straight into `out` (no intermediate `String`).
    public static func writeInteger(_ value: Int, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        if magnitude < 10 {
            out.append(UInt8(ascii: "0") + UInt8(magnitude))
            return
        }
        var digits = 0
        var probe = magnitude
        while probe > 0 {
            digits += 1
            probe /= 10
        }
        let end = out.count + digits
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        out.withUnsafeMutableBufferPointer { buffer in
            var index = end - 1
            while magnitude > 0 {
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                index -= 1
            }
        }
    }

    /// Numbers as Swift's shortest round-trip `description` writes them, with a fast path for
    /// what runs are full of (timestamps in tenths of a millisecond, ratios in thousandths):
    /// a value with at most three decimals that round-trips through its thousandths is written
    /// digit by digit, which is the same text `description` gives for it.
    public static func writeNumber(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: "null".utf8)  // JSON has no NaN or infinity
            return
        }
        let magnitude = abs(value)
        if value.rounded() == value && magnitude < 1e15 {
            writeInteger(Int(value), into: &out)
            return
        }
        if magnitude >= 1e-3 && magnitude < 1e12 {
            let thousandths = (magnitude * 1000).rounded()
            if thousandths / 1000 == magnitude {
                let whole = Int(thousandths) / 1000
                let fraction = Int(thousandths) % 1000
                let digits = [fraction / 100, fraction / 10 % 10, fraction % 10]
                var width = 3
                while width > 1 && digits[width - 1] == 0 { width -= 1 }
                if value < 0 { out.append(UInt8(ascii: "-")) }
                writeInteger(whole, into: &out)
                out.append(UInt8(ascii: "."))
                for digit in digits[..<width] { out.append(UInt8(ascii: "0") + UInt8(digit)) }
                return
            }
        }
        out.append(contentsOf: value.description.utf8)
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
