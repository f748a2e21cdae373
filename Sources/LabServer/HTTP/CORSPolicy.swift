import Foundation
import MicroHTTP

/// Which other origins' pages may use the API from a browser (`--cors-origins`), and the
/// header fields that tell the browser so.
///
/// - `any` (`*`, the default): every answer carries `Access-Control-Allow-Origin: *`.
/// - `listed`: an answer to a listed `Origin` echoes it (with `Vary: Origin`); other origins
///   get no grant and the browser withholds the answer from their page.
/// - `none`: no CORS header at all; only same-origin pages (the bundled one) use the API.
///
/// The server never sends `Access-Control-Allow-Credentials`. The API token travels in
/// `Authorization`, which a page sets itself: that is not a credentialed request in the CORS
/// sense, so `*` serves it (the preflight names `Authorization` explicitly, since the `*`
/// wildcard of `Access-Control-Allow-Headers` never covers it). A credentialed request
/// (cookies, `credentials: 'include'`, `withCredentials`) cannot be granted with `*`, and the
/// server grants none in any mode: the browser refuses it, whatever the status.
public struct CORSPolicy: Sendable, Hashable {
    public enum Origins: Sendable, Hashable {
        case any
        case listed(Set<String>)
        case none
    }

    public var origins: Origins

    /// Request header fields a page may send: the body's type, the token, the resume point of
    /// an event stream, and RFC 7240 `Prefer: wait=`.
    public static let allowedHeaders = "Content-Type, Authorization, Last-Event-ID, Prefer"
    /// Response header fields a page may read beyond the safelisted ones.
    public static let exposedHeaders = "Location, Retry-After, X-Request-Id"
    /// How long a browser may reuse a preflight's answer (Chromium caps it at 7,200 s).
    public static let maxAgeSeconds = 3_600

    public init(_ origins: Origins = .any) {
        self.origins = origins
    }

    /// Reads `--cors-origins`: `*`, `none`, or a comma-separated list of origins
    /// (`scheme://host[:port]`, as a browser sends `Origin`). Throws a sentence saying what is wrong.
    public init(parsing text: String) throws(CORSPolicyError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed {
        case "*": self.init(.any)
        case "none": self.init(.none)
        default:
            let entries = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !entries.isEmpty, !entries.contains(where: \.isEmpty) else {
                throw CORSPolicyError("--cors-origins must be '*', 'none' or a comma-separated list of origins")
            }
            var listed: Set<String> = []
            for entry in entries {
                guard let origin = Self.origin(entry) else {
                    throw CORSPolicyError("--cors-origins: '\(entry)' is not an origin (scheme://host[:port], no path)")
                }
                listed.insert(origin)
            }
            self.init(.listed(listed))
        }
    }

    /// The origin in the form browsers send it (scheme and host lowercase), or nil.
    static func origin(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard let schemeEnd = lowered.range(of: "://") else { return nil }
        let scheme = lowered[..<schemeEnd.lowerBound]
        let authority = lowered[schemeEnd.upperBound...]
        guard scheme == "http" || scheme == "https", !authority.isEmpty,
            !authority.contains(where: { "/?#@ ".contains($0) })
        else { return nil }
        return lowered
    }

    // The fixed answers, built once: every request that is answered gets one of them, and an
    // array literal here would be a heap allocation per request.
    private static let anyOriginGrant = [("Access-Control-Allow-Origin", "*")]
    private static let anyOriginGrantExposing = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", exposedHeaders)]
    private static let varyOnly = [("Vary", "Origin")]

    /// The header fields of an answer to a request whose `Origin` is `origin` (nil: not sent).
    /// With `*`, a request without `Origin` gets only the grant: what the browser needs, and
    /// the exposure list is for pages, which always send `Origin` across origins.
    func headers(origin: String?) -> [(String, String)] {
        switch origins {
        case .none: return []
        case .any:
            guard origin != nil else { return Self.anyOriginGrant }
            return Self.anyOriginGrantExposing
        case .listed(let listed):
            guard let origin, listed.contains(origin) else { return Self.varyOnly }
            return [
                ("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", Self.exposedHeaders),
                ("Vary", "Origin"),
            ]
        }
    }

    /// The answer to `OPTIONS` on a path that allows `methods`: `204` with `Allow`, and for a
    /// preflight from a granted origin the methods, headers and max-age the browser asks about.
    func preflight(origin: String?, requestsMethod: Bool, methods: [String]) -> Response {
        var fields = [("Allow", methods.joined(separator: ", "))]
        let grant = headers(origin: origin)
        if requestsMethod, origin != nil, grant.contains(where: { $0.0 == "Access-Control-Allow-Origin" }) {
            fields += grant.filter { $0.0 != "Access-Control-Expose-Headers" }
            fields += [
                ("Access-Control-Allow-Methods", methods.joined(separator: ", ")),
                ("Access-Control-Allow-Headers", Self.allowedHeaders),
                ("Access-Control-Max-Age", String(Self.maxAgeSeconds)),
            ]
        } else {
            fields += grant.filter { $0.0 == "Vary" }
        }
        return Response(status: 204, headers: fields)
    }

    /// What `refusalBody` adds to the HTTP layer's own answers (which never see the request's
    /// `Origin`): the grant when it is the same for every origin.
    var refusalHeaders: [(String, String)] {
        origins == .any ? Self.anyOriginGrantExposing : []
    }
}

/// A `--cors-origins` value that is not `*`, `none` or a list of origins.
public struct CORSPolicyError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
