import LabJSON
import Patterns
import Testing

@Suite struct ParameterValidatorTests {
    let specs: [ParameterSpec] = [
        .integer("count", default: 10, min: 1, max: 100, "tasks"),
        .boolean("use_lock", default: true, "lock"),
        .choice("mode", default: "offload", choices: ["offload", "inline"], "mode"),
        .integerList("delays_ms", default: nil, min: 0, max: 1000, maxItems: 5, "delays"),
    ]

    @Test func omittedParameters_takeTheirDefaults() throws {
        let parameters = try ParameterValidator.validate([:], against: specs).get()
        #expect(parameters.int("count") == 10)
        #expect(parameters.bool("use_lock") == true)
        #expect(parameters.string("mode") == "offload")
        #expect(parameters.intList("delays_ms") == nil)
    }

    @Test func textInput_isParsedByDeclaredType() throws {
        let raw: [String: RawParameter] = [
            "count": .text("7"), "use_lock": .text("false"), "mode": .text("inline"), "delays_ms": .text("3, 1,2"),
        ]
        let parameters = try ParameterValidator.validate(raw, against: specs).get()
        #expect(parameters.int("count") == 7)
        #expect(parameters.bool("use_lock") == false)
        #expect(parameters.string("mode") == "inline")
        #expect(parameters.intList("delays_ms") == [3, 1, 2])
    }

    @Test func everyBadField_isNamedWithItsBounds() {
        let raw: [String: RawParameter] = [
            "count": .json(.int(101)), "use_lock": .json(.string("yes please")), "mode": .json(.string("fast")),
            "delays_ms": .json([1, 2, 3, 4, 5, 6]), "colour": .json(.string("red")),
        ]
        guard case .failure(let error) = ParameterValidator.validate(raw, against: specs) else {
            Issue.record("expected a validation failure")
            return
        }
        #expect(Set(error.issues.map(\.field)) == ["count", "use_lock", "mode", "delays_ms", "colour"])
        let count = error.issues.first { $0.field == "count" }
        #expect(count?.message == "must be an integer from 1 to 100")
    }

    @Test func fractionalAndOverflowingNumbers_areRejected() {
        for value: JSONValue in [.double(2.5), .double(1e300), .string("5")] {
            let result = ParameterValidator.validate(["count": .json(value)], against: specs)
            #expect(throws: ParameterValidationError.self) { try result.get() }
        }
    }
}
