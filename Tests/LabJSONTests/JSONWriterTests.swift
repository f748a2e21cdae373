import LabJSON
import Testing

/// The member-by-member writer places the punctuation itself: given keys in sorted order it
/// writes exactly what the value's writer writes.
@Suite struct JSONWriterTests {
    @Test func nestedObjectsAndArrays_areTheValuesBytes() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a\"b"); writer.string("x\ny")
        writer.key("empty"); writer.beginArray(); writer.endArray()
        writer.key("list")
        writer.beginArray()
        for index in 0..<3 {
            writer.beginObject()
            writer.key("n"); writer.int(index)
            writer.key("ok"); writer.bool(index % 2 == 0)
            writer.endObject()
        }
        writer.number(2.5)
        writer.endArray()
        writer.key("none"); writer.beginObject(); writer.endObject()
        writer.key("t_ms"); writer.number(12.3)
        writer.endObject()
        let value: JSONValue = [
            "a\"b": "x\ny", "empty": [], "none": [:], "t_ms": 12.3,
            "list": [["n": 0, "ok": true], ["n": 1, "ok": false], ["n": 2, "ok": true], 2.5],
        ]
        #expect(String(decoding: writer.bytes, as: UTF8.self) == value.serialized())
    }
}
