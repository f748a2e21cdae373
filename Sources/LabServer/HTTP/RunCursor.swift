import Foundation
import LabJSON
import Patterns
import Runs

/// The `next_cursor` of `GET /runs`: where the next page starts and the filters of the listing
/// it continues, so `?cursor=` alone pages through the filtered list and not through every run.
///
/// Opaque to clients: base64url (no padding) of a small JSON object. A filter sent beside a
/// cursor must agree with the one it carries (400 naming the parameter otherwise): a page of
/// one listing continued as another would skip or repeat runs without anyone noticing.
struct RunCursor: Equatable {
    /// The id of the last run of the previous page; the next page starts after it.
    var before: String
    var pattern: String?
    var status: RunStatus?

    /// The cursor continuing `query` after the run `lastID`.
    init(after lastID: String, of query: RunQuery) {
        before = lastID
        pattern = query.pattern
        status = query.status
    }

    var encoded: String {
        var fields: [String: JSONValue] = ["before": .string(before)]
        if let pattern { fields["pattern"] = .string(pattern) }
        if let status { fields["status"] = .string(status.rawValue) }
        return Data(JSONValue.object(fields).serializedBytes()).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The cursor `text` encodes; a 400 naming `cursor` when it is not one this server made.
    init(decoding text: String) throws(LabError) {
        let invalid = LabError.badRequest("cursor must be a next_cursor value from a previous page", field: "cursor")
        guard text.count <= 2_048, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { throw invalid }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let value = try? JSONValue.parse([UInt8](data)),
            case .object(let fields) = value, let before = fields["before"]?.stringValue,
            RunIDGenerator.isWellFormed(before), fields.keys.allSatisfy(["before", "pattern", "status"].contains)
        else { throw invalid }
        self.before = before
        switch fields["pattern"] {
        case nil: pattern = nil
        case .string(let name): pattern = name
        default: throw invalid
        }
        switch fields["status"] {
        case nil: status = nil
        case .string(let name):
            guard let parsed = RunStatus(rawValue: name) else { throw invalid }
            status = parsed
        default: throw invalid
        }
    }

    /// `query` continued from this cursor: its filters, checked against any given beside it.
    func continuing(_ query: RunQuery, given: Set<String>) throws(LabError) -> RunQuery {
        if given.contains("pattern"), query.pattern != pattern {
            throw .badRequest(
                "pattern does not match the cursor's listing (\(pattern.map { "pattern=\($0)" } ?? "no pattern filter")); leave it out or start again without the cursor",
                field: "pattern")
        }
        if given.contains("status"), query.status != status {
            throw .badRequest(
                "status does not match the cursor's listing (\(status.map { "status=\($0.rawValue)" } ?? "no status filter")); leave it out or start again without the cursor",
                field: "status")
        }
        var continued = query
        continued.pattern = pattern
        continued.status = status
        continued.before = before
        return continued
    }
}
