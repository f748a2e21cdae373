import LabJSON
import Testing

/// The writer's fast paths must produce exactly what the plain formatting would: numbers as
/// Swift's shortest round-trip text, strings escaped, objects with sorted keys.
@Suite struct JSONValueSerializationTests {
    static func text(_ value: JSONValue) -> String { value.serialized() }

    @Test func integers_matchTheirDescription() {
        var generator = SystemRandomNumberGenerator()
        var samples = [0, 1, -1, 9, 10, -10, 99, 100, 1_000_000, Int.max, Int.min, Int.min + 1]
        for _ in 0..<2_000 { samples.append(Int.random(in: Int.min...Int.max, using: &generator) >> Int.random(in: 0..<63)) }
        for value in samples {
            #expect(Self.text(.int(value)) == String(value), "\(value)")
        }
    }

    @Test func doubles_matchSwiftsShortestText() {
        var samples: [Double] = [
            0.1, 0.5, 1.25, -2.5, 0.001, 0.01, 0.105, 160.8, 99.999, 1e-3, 1e-4, 123456789012.5, 1e12 + 0.5,
            1e15 + 0.5, 1e16, 1.0 / 3.0, -0.0, 0.0, 2.0, 1e300, .leastNonzeroMagnitude, 0.1 + 0.2,
        ]
        for _ in 0..<20_000 {
            let magnitude = Double.random(in: 0..<1e7)
            samples.append(magnitude)
            samples.append(-(magnitude * 10).rounded() / 10)
            samples.append((magnitude * 1000).rounded() / 1000)
            samples.append((Double.random(in: 0..<2) * 1000).rounded() / 1000)
        }
        for value in samples {
            let expected = value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : value.description
            #expect(Self.text(.double(value)) == expected, "\(value)")
        }
    }

    @Test func nonFiniteNumbers_areNull() {
        #expect(Self.text(.double(.nan)) == "null")
        #expect(Self.text(.double(.infinity)) == "null")
    }

    @Test func strings_areEscapedOnlyWhereNeeded() {
        #expect(Self.text("plain ascii, é and 😀") == "\"plain ascii, é and 😀\"")
        #expect(Self.text("q\"b\\n\nr\rt\t\u{1}") == #""q\"b\\n\nr\rt\t\u0001""#)
    }

    @Test func objects_haveSortedKeys_atEveryLevel() {
        let value: JSONValue = ["b": 1, "a": ["z": true, "y": nil], "c": [3, 2.5, "x"]]
        #expect(Self.text(value) == #"{"a":{"y":null,"z":true},"b":1,"c":[3,2.5,"x"]}"#)
    }
}

/// A value kept as JSON text behaves as the value it holds.
@Suite struct SerializedJSONTests {
    @Test func serializedValue_equalsAndHashesAsItsValue_andReadsLikeIt() throws {
        let value: JSONValue = ["spans": [["task": 1, "label": "a"]], "truncated": true, "tasks": 2]
        let serialized = JSONValue.serialized(SerializedJSON(bytes: value.serializedBytes()))
        #expect(serialized == value)
        #expect(value == serialized)
        #expect(serialized.hashValue == value.hashValue)
        #expect(serialized["tasks"]?.intValue == 2)
        #expect(serialized["spans"]?.arrayValue?.first?["label"] == "a")
        #expect(serialized.serialized() == value.serialized())
        #expect(serialized.prettySerialized() == value.prettySerialized())
        #expect(serialized != ["tasks": 3])
        #expect(JSONValue.int(40) == .double(40.0) && JSONValue.double(40.0).hashValue == JSONValue.int(40).hashValue)
        #expect(JSONValue.int(40) != .double(40.5))
        #expect(JSONValue.int(Int.max) != .double(Double(Int.max)))
        let inside: JSONValue = ["timeline": serialized, "id": "r"]
        #expect(inside.serialized() == #"{"id":"r","timeline":{"spans":[{"label":"a","task":1}],"tasks":2,"truncated":true}}"#)
    }

    @Test func pairsWithAnExtraMember_areWrittenAsTheSortedObject() {
        let pairs: KeyValuePairs<String, JSONValue> = ["task": 3, "in_flight": 2, "waiting": 0, "label": "w\"x"]
        var out: [UInt8] = []
        JSONValue.writeObject(pairs, extra: ("t_ms", .milliseconds(12.345)), into: &out)
        var object: [String: JSONValue] = ["t_ms": .milliseconds(12.345)]
        for (key, value) in pairs { object[key] = value }
        #expect(out == JSONValue.object(object).serializedBytes())
        var repeated: [UInt8] = []
        JSONValue.writeObject(["a": 1, "t_ms": 5, "a": 2] as KeyValuePairs<String, JSONValue>, extra: ("t_ms", 9), into: &repeated)
        #expect(String(decoding: repeated, as: UTF8.self) == #"{"a":2,"t_ms":9}"#)
        var empty: [UInt8] = []
        JSONValue.writeObject(KeyValuePairs<String, JSONValue>(), into: &empty)
        #expect(empty == Array("{}".utf8))
        var many: [UInt8] = []
        let big = Dictionary(uniqueKeysWithValues: (0..<40).map { ("k\($0)", JSONValue.int($0)) })
        JSONValue.writeObject(big, extra: ("a", true), into: &many)
        var bigger = big
        bigger["a"] = true
        #expect(many == JSONValue.object(bigger).serializedBytes())
    }
}
