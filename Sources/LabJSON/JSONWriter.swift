/// Writes one JSON document straight into bytes, member by member: for the hot paths where
/// building a `JSONValue` first would cost most of the work (a large run's timeline, the task
/// events that are most of a run's events). It places the punctuation; the caller gives keys
/// in sorted order, as `JSONValue`'s writer sorts them, so both write the same bytes (the
/// tests compare them).
///
/// ```swift
/// var writer = JSONWriter(capacity: 64)
/// writer.beginObject()
/// writer.key("label"); writer.string(label)
/// writer.key("task"); writer.int(task)
/// writer.endObject()            // writer.bytes == {"label":"...","task":3}
/// ```
public struct JSONWriter {
    /// The JSON written so far.
    public var bytes: [UInt8] { buffer }
    @usableFromInline var buffer: [UInt8]
    /// True after a value: the next key or array element needs a comma before it.
    @usableFromInline var afterValue = false

    @inlinable
    public init(capacity: Int = 64) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func beginObject() {
        separate()
        buffer.append(UInt8(ascii: "{"))
    }

    @inlinable
    public mutating func endObject() {
        buffer.append(UInt8(ascii: "}"))
        afterValue = true
    }

    @inlinable
    public mutating func beginArray() {
        separate()
        buffer.append(UInt8(ascii: "["))
    }

    @inlinable
    public mutating func endArray() {
        buffer.append(UInt8(ascii: "]"))
        afterValue = true
    }

    /// A member's key, a literal with nothing to escape (what this project's keys are).
    @inlinable
    public mutating func key(_ key: StaticString) {
        separate()
        buffer.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { buffer.append(contentsOf: $0) }
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UInt8(ascii: ":"))
    }

    /// A member's key made at run time (escaped as needed).
    @inlinable
    public mutating func key(_ key: String) {
        separate()
        JSONValue.writeString(key, into: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    @inlinable
    public mutating func int(_ value: Int) {
        separate()
        JSONValue.writeInteger(value, into: &buffer)
        afterValue = true
    }

    @inlinable
    public mutating func number(_ value: Double) {
        separate()
        JSONValue.writeNumber(value, into: &buffer)
        afterValue = true
    }

    @inlinable
    public mutating func string(_ value: String) {
        separate()
        JSONValue.writeString(value, into: &buffer)
        afterValue = true
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        separate()
        buffer.append(contentsOf: (value ? "true" : "false").utf8)
        afterValue = true
    }

    /// A comma when a value came before; a key's colon leaves `afterValue` false, so its value
    /// gets none.
    @inlinable
    mutating func separate() {
        if afterValue { buffer.append(UInt8(ascii: ",")) }
        afterValue = false
    }
}
