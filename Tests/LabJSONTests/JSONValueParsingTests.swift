import LabJSON
import Testing

@Suite struct JSONValueParsingTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2, 3.5, 1e2, true, false, null], "s": "x\"\u00e9\ud83d\ude00\n"} "#)
        #expect(value["a"] == [1, -2, 3.5, 100.0, true, false, nil])
        #expect(value["s"] == .string("x\"é😀\n"))
    }

    @Test func serialisedValues_parseBackUnchanged() throws {
        let value: JSONValue = ["list": [1, 2.25, "three\u{1}", ["nested": true]], "empty": [:], "none": nil]
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "duplicate key 'a'", 7),
        ("{\"a\":1", "unexpected end of input", 6),
        ("[1,]", "unexpected character", 3),
        ("{\"a\":01}", "leading zeros are not allowed", 5),
        ("\"abc", "unterminated string", 4),
        ("{} x", "unexpected data after the JSON value", 3),
        ("1e999", "number out of range", 0),
        ("\"\\ud800\"", "unpaired surrogate", 7),
        ("\"a\u{1}\"", "control character in string", 2),
    ])
    func malformedInput_isRefusedWithWhereItFailed(input: String, message: String, offset: Int) {
        #expect(throws: JSONParseError(message: message, offset: offset)) { try JSONValue.parse(input) }
    }

    @Test func deepNesting_isAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        #expect(throws: Never.self) { try JSONValue.parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)) }
    }

    @Test func invalidUTF8_isRefused() {
        #expect(throws: JSONParseError(message: "invalid UTF-8 in string", offset: 1)) {
            try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22])
        }
    }

    @Test func hugeIntegers_stayNumbersButNotInts() throws {
        let value = try JSONValue.parse("123456789012345678901234567890")
        #expect(value.intValue == nil)
        #expect(value.doubleValue != nil)
    }
}
