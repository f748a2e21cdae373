import LabJSON

/// A validated parameter value.
public enum ParameterValue: Sendable, Hashable {
    case integer(Int)
    case boolean(Bool)
    case string(String)
    case integerList([Int])

    public var json: JSONValue {
        switch self {
        case .integer(let value): .int(value)
        case .boolean(let value): .bool(value)
        case .string(let value): .string(value)
        case .integerList(let values): .array(values.map(JSONValue.int))
        }
    }
}

/// A pattern's parameters after validation: every declared parameter with a default is
/// present, every value is in bounds. Accessors trap on a name the pattern did not declare,
/// which is a programming error, never user input.
public struct ParameterSet: Sendable, Hashable {
    public private(set) var values: [String: ParameterValue]

    public init(_ values: [String: ParameterValue]) {
        self.values = values
    }

    public func has(_ name: String) -> Bool { values[name] != nil }

    public func int(_ name: String) -> Int {
        guard case .integer(let value) = values[name] else { preconditionFailure("no integer parameter \(name)") }
        return value
    }

    public func optionalInt(_ name: String) -> Int? {
        if case .integer(let value) = values[name] { value } else { nil }
    }

    public func bool(_ name: String) -> Bool {
        guard case .boolean(let value) = values[name] else { preconditionFailure("no boolean parameter \(name)") }
        return value
    }

    public func string(_ name: String) -> String {
        guard case .string(let value) = values[name] else { preconditionFailure("no string parameter \(name)") }
        return value
    }

    public func intList(_ name: String) -> [Int]? {
        if case .integerList(let value) = values[name] { value } else { nil }
    }

    /// The parameters as the run's JSON shows them.
    public var json: JSONValue {
        .object(values.mapValues(\.json))
    }
}
