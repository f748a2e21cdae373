import LabJSON
import MicroHTTP
import Patterns

/// `GET /patterns` and `GET /patterns/{name}`. The catalog never changes while the server
/// runs, so every answer is serialised once at start and served from memory.
struct CatalogHandlers: Sendable {
    private let list: [UInt8]
    private let entries: [String: [UInt8]]

    init(catalog: PatternCatalog) {
        list = JSONValue.object(["patterns": .array(catalog.patterns.map(catalog.entry))]).serializedBytes()
        var entries: [String: [UInt8]] = [:]
        for pattern in catalog.patterns { entries[pattern.name] = catalog.entry(pattern).serializedBytes() }
        self.entries = entries
    }

    func patterns() -> Response {
        JSONResponse.make(200, bytes: list)
    }

    func pattern(named name: String) throws(LabError) -> Response {
        guard let entry = entries[name] else { throw .runs(.unknownPattern(name)) }
        return JSONResponse.make(200, bytes: entry)
    }
}
