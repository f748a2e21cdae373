import Foundation
@testable import LabServer
import Testing

/// The routes the server registers and the paths openapi.yaml documents are the same set,
/// with the same methods.
@Suite struct OpenAPIContractTests {
    /// `(method, path)` pairs of the spec's `paths:` section, read line by line: a path is a
    /// two-space-indented key starting with `/`, a method a four-space-indented HTTP verb.
    static func documentedOperations() throws -> Set<String> {
        let text = try String(contentsOf: LabConfiguration().openAPIFile, encoding: .utf8)
        var operations: Set<String> = []
        var inPaths = false
        var currentPath: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, first != " " { break }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path = currentPath {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "delete", "patch"].contains(String(key)) {
                    operations.insert("\(key.uppercased()) \(path)")
                }
            }
        }
        return operations
    }

    @Test func everyRegisteredRoute_isDocumented_andNothingElse() throws {
        let registered = Set(LabApplication.routes.routes.map { "\($0.method) \($0.template.description)" })
        let documented = try Self.documentedOperations()
        #expect(registered == documented)
        #expect(registered.count == 12)
    }
}
