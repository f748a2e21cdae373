/// One problem with one input field: what the HTTP layer turns into an `errors[]` entry of
/// a 422 and the CLI into a line on stderr.
public struct FieldIssue: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Raised when parameters do not validate; carries every problem found, not just the first.
public struct ParameterValidationError: Error, Sendable, CustomStringConvertible {
    public let issues: [FieldIssue]

    public init(issues: [FieldIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "; ") }
}
