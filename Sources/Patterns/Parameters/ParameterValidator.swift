import LabJSON

/// A parameter as it arrived: a JSON value (request body, `--json`) or text (form field,
/// query parameter, `--param key=value`), which is parsed by the declared type.
public enum RawParameter: Sendable, Hashable {
    case json(JSONValue)
    case text(String)
}

/// Turns raw input into a `ParameterSet`: unknown names, wrong types and out-of-range values
/// each produce a `FieldIssue` naming the field and its bounds; defaults fill the rest.
public enum ParameterValidator {
    public static func validate(
        _ raw: [String: RawParameter], against specs: [ParameterSpec]
    ) -> Result<ParameterSet, ParameterValidationError> {
        var issues: [FieldIssue] = []
        let known = Set(specs.map(\.name))
        for name in raw.keys.sorted() where !known.contains(name) {
            let accepted = specs.map(\.name).joined(separator: ", ")
            issues.append(FieldIssue(field: name, message: "unknown parameter; accepted: \(accepted)"))
        }
        var values: [String: ParameterValue] = [:]
        for spec in specs {
            guard let input = raw[spec.name] else {
                values[spec.name] = spec.defaultValue
                continue
            }
            switch parse(input, as: spec) {
            case .success(let value): values[spec.name] = value
            case .failure(let issue): issues.append(issue)
            }
        }
        return issues.isEmpty ? .success(ParameterSet(values)) : .failure(ParameterValidationError(issues: issues))
    }

    static func parse(_ input: RawParameter, as spec: ParameterSpec) -> Result<ParameterValue, FieldIssue> {
        let invalid = FieldIssue(field: spec.name, message: "must be \(spec.boundsDescription)")
        switch spec.kind {
        case .integer:
            guard let value = integer(from: input) else { return .failure(invalid) }
            return inBounds(value, spec) ? .success(.integer(value)) : .failure(invalid)
        case .boolean:
            guard let value = boolean(from: input) else { return .failure(invalid) }
            return .success(.boolean(value))
        case .string:
            guard let value = string(from: input) else { return .failure(invalid) }
            if let choices = spec.choices, !choices.contains(value) { return .failure(invalid) }
            return .success(.string(value))
        case .integerList:
            guard let list = integerList(from: input), !list.isEmpty, list.count <= (spec.maxItems ?? Int.max),
                list.allSatisfy({ inBounds($0, spec) })
            else { return .failure(invalid) }
            return .success(.integerList(list))
        }
    }

    private static func inBounds(_ value: Int, _ spec: ParameterSpec) -> Bool {
        value >= (spec.minimum ?? Int.min) && value <= (spec.maximum ?? Int.max)
    }

    private static func integer(from input: RawParameter) -> Int? {
        switch input {
        case .json(let value): value.intValue
        case .text(let text): Int(text.trimmingSpaces)
        }
    }

    private static func boolean(from input: RawParameter) -> Bool? {
        switch input {
        case .json(let value): return value.boolValue
        case .text(let text):
            switch text.trimmingSpaces.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: return nil
            }
        }
    }

    private static func string(from input: RawParameter) -> String? {
        switch input {
        case .json(let value): value.stringValue
        case .text(let text): text.trimmingSpaces
        }
    }

    private static func integerList(from input: RawParameter) -> [Int]? {
        switch input {
        case .json(.array(let elements)):
            let values = elements.compactMap(\.intValue)
            return values.count == elements.count ? values : nil
        case .json(.string(let text)), .text(let text):
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            let values = parts.compactMap { Int(String($0).trimmingSpaces) }
            return values.count == parts.count ? values : nil
        case .json:
            return nil
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " { view.removeFirst() }
        while view.last == " " { view.removeLast() }
        return String(view)
    }
}
