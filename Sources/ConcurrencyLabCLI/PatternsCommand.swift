import ArgumentParser
import LabJSON
import Patterns

/// `concurrency-lab patterns`: the catalog, as a table or as JSON.
struct PatternsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patterns", abstract: "List the patterns, their parameters and the invariants they check.")

    @Flag(name: .long, help: "Print the catalog as JSON (as GET /patterns answers).")
    var json = false

    func run() {
        let catalog = PatternCatalog()
        if json {
            print(JSONValue.object(["patterns": .array(catalog.patterns.map(catalog.entry))]).prettySerialized())
            return
        }
        for pattern in catalog.patterns {
            print("\(pattern.name)  \(pattern.title)")
            print("    asyncio: \(pattern.asyncioEquivalent)   Swift: \(pattern.swiftEquivalent)")
            for spec in catalog.parameters(of: pattern) {
                let defaultText = spec.defaultValue.map { $0.json.serialized() } ?? "(none)"
                print("    --param \(spec.name)=...   \(spec.boundsDescription); default \(defaultText). \(spec.description)")
            }
            for invariant in pattern.invariants { print("    checks: \(invariant)") }
            print("")
        }
    }
}
