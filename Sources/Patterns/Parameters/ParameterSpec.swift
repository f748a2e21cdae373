import LabJSON

/// The type of one pattern parameter, as the catalog, validation, the CLI and the browser
/// form all see it.
public enum ParameterKind: String, Sendable, Codable {
    case integer
    case boolean
    case string
    /// A list of integers: a JSON array, or comma-separated in form fields and on the CLI.
    case integerList = "integer_list"
}

/// One parameter of a pattern: its name, type, default and bounds. Validation, the HTTP
/// catalog, the CLI and the browser form are all generated from these.
public struct ParameterSpec: Sendable, Hashable {
    public let name: String
    public let kind: ParameterKind
    /// nil: the parameter is optional and absent unless given.
    public let defaultValue: ParameterValue?
    /// Inclusive bounds of an integer, or of every element of an integer list.
    public let minimum: Int?
    public let maximum: Int?
    /// For lists: the most elements accepted.
    public let maxItems: Int?
    /// For strings: the accepted values.
    public let choices: [String]?
    public let description: String

    public init(
        name: String, kind: ParameterKind, defaultValue: ParameterValue?, minimum: Int? = nil,
        maximum: Int? = nil, maxItems: Int? = nil, choices: [String]? = nil, description: String
    ) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.maxItems = maxItems
        self.choices = choices
        self.description = description
    }

    public static func integer(
        _ name: String, default value: Int?, min: Int, max: Int, _ description: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, kind: .integer, defaultValue: value.map(ParameterValue.integer),
            minimum: min, maximum: max, description: description)
    }

    public static func boolean(_ name: String, default value: Bool, _ description: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .boolean, defaultValue: .boolean(value), description: description)
    }

    public static func choice(
        _ name: String, default value: String, choices: [String], _ description: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, kind: .string, defaultValue: .string(value), choices: choices, description: description)
    }

    public static func integerList(
        _ name: String, default value: [Int]?, min: Int, max: Int, maxItems: Int, _ description: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, kind: .integerList, defaultValue: value.map(ParameterValue.integerList),
            minimum: min, maximum: max, maxItems: maxItems, description: description)
    }

    /// The bounds as a person reads them, for error messages: "an integer from 1 to 100000".
    public var boundsDescription: String {
        switch kind {
        case .integer:
            "an integer from \(minimum ?? Int.min) to \(maximum ?? Int.max)"
        case .boolean:
            "true or false"
        case .string:
            if let choices { "one of " + choices.map { "'\($0)'" }.joined(separator: ", ") } else { "a string" }
        case .integerList:
            "a list of 1 to \(maxItems ?? Int.max) integers, each from \(minimum ?? Int.min) to \(maximum ?? Int.max)"
        }
    }

    /// The catalog's JSON form of this spec.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name), "type": .string(kind.rawValue), "description": .string(description),
            "default": defaultValue?.json ?? .null,
        ]
        if let minimum { object["min"] = .int(minimum) }
        if let maximum { object["max"] = .int(maximum) }
        if let maxItems { object["max_items"] = .int(maxItems) }
        if let choices { object["choices"] = .array(choices.map(JSONValue.string)) }
        return .object(object)
    }
}
