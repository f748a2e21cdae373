/// A JSON document as a Swift value: what a run's parameters, results, checks and events
/// are made of. Patterns build these directly so no layer has to reflect over types.
///
/// `serialized` holds a value already written as JSON (a run's timeline: 10,000 spans are
/// written once, straight from the spans, and copied into every answer, event and row that
/// carries them). Reading into it (`objectValue`, subscripts, `==`) parses it; parsing never
/// produces it.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
    case serialized(SerializedJSON)
}

/// JSON text made by this module's writer (valid, one line, keys sorted).
public struct SerializedJSON: Sendable {
    public let bytes: [UInt8]

    /// `bytes` must be what `JSONValue.write(into:)` would write for some value.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value the bytes hold (parsed on each call: a path for reading, not for serving).
    public var value: JSONValue {
        (try? JSONValue.parse(bytes, maxDepth: 64)) ?? .null
    }
}

extension JSONValue: Hashable {
    /// Structural equality, with numbers compared as JSON compares them, by value (`40` and
    /// `40.0` are the same number: what a `.double` written as `40` parses back to); a
    /// serialized value equals the value it parses to.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.serialized(let left), .serialized(let right)): left.bytes == right.bytes || left.value == right.value
        case (.serialized(let left), _): left.value == rhs
        case (_, .serialized(let right)): lhs == right.value
        case (.null, .null): true
        case (.bool(let left), .bool(let right)): left == right
        case (.int(let left), .int(let right)): left == right
        case (.double(let left), .double(let right)): left == right
        case (.int(let integer), .double(let double)), (.double(let double), .int(let integer)):
            Int(exactly: double) == integer
        case (.string(let left), .string(let right)): left == right
        case (.array(let left), .array(let right)): left == right
        case (.object(let left), .object(let right)): left == right
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(1); hasher.combine(value)
        // Numbers equal across the two cases hash alike.
        case .int(let value): hasher.combine(2); hasher.combine(Double(value))
        case .double(let value): hasher.combine(2); hasher.combine(value)
        case .string(let value): hasher.combine(4); hasher.combine(value)
        case .array(let value): hasher.combine(5); hasher.combine(value)
        case .object(let value): hasher.combine(6); hasher.combine(value)
        case .serialized(let value): value.value.hash(into: &hasher)
        }
    }

    /// The value itself, with a serialized one parsed.
    var resolved: JSONValue {
        if case .serialized(let serialized) = self { serialized.value } else { self }
    }
}

extension JSONValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    public var intValue: Int? {
        switch resolved {
        case .int(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9.0e15: Int(value)
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch resolved {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let value) = resolved { value } else { nil }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = resolved { value } else { nil }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = resolved { value } else { nil }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = resolved { value } else { nil }
    }

    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// Milliseconds rounded to 0.1, the precision every timestamp in a run is shown with.
    public static func milliseconds(_ value: Double) -> JSONValue {
        .double(tenths(value))
    }

    /// `value` rounded to one decimal.
    public static func tenths(_ value: Double) -> Double {
        (value * 10).rounded() / 10
    }

    /// A ratio rounded to three decimals (`wall / ideal`); 0/0 reads as 1.
    public static func ratio(_ numerator: Double, _ denominator: Double) -> JSONValue {
        guard denominator != 0 else { return .double(numerator == 0 ? 1 : .infinity) }
        return .double((numerator / denominator * 1000).rounded() / 1000)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .serialized(let value): try container.encode(value.value)
        }
    }
}
