import Foundation
import MicroHTTP

/// `?wait=SECONDS` or `Prefer: wait=SECONDS` (RFC 7240): how long a request may wait for a
/// run to end. Bounded by `maxWait`; a bad value is a 400 naming `wait`.
enum WaitParameter {
    static func parse(_ request: Request, maxWait: Duration) throws(LabError) -> Duration? {
        let fromQuery = request.queryFields.filter { $0.0 == "wait" }.map(\.1)
        guard fromQuery.count <= 1 else { throw .badRequest("wait is given more than once", field: "wait") }
        guard let text = fromQuery.first ?? preferWait(request) else { return nil }
        let maxSeconds = Double(maxWait.components.seconds)
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= maxSeconds else {
            throw .badRequest("wait must be a number of seconds from 0 to \(Int(maxSeconds))", field: "wait")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The `wait` preference of a `Prefer` header, if any.
    private static func preferWait(_ request: Request) -> String? {
        guard let prefer = request.header("Prefer") else { return nil }
        for preference in prefer.split(separator: ",") {
            let parts = preference.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0].lowercased() == "wait" { return parts[1] }
        }
        return nil
    }
}
