import Foundation

/// Where the PostgreSQL store lives: `postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME`
/// (also `postgres://`), with `?sslmode=disable|prefer|require|verify-full` as libpq means them
/// (`prefer` by default; `prefer` and `require` encrypt without checking the certificate,
/// `verify-full` checks it and the host name).
///
/// The password is kept for connecting and never shown: `redacted` (used in every message
/// and log line) leaves it out, and a malformed URL is described without echoing it.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public let user: String
    public let password: String?
    public let host: String
    public let port: Int
    public let database: String
    public let tls: TLSMode

    /// Whether `text` names a PostgreSQL database (rather than an SQLite file).
    public static func isPostgres(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://")
    }

    /// Parses `text`; the error's message never contains the password.
    public init(_ text: String) throws(PostgresURLError) {
        guard Self.isPostgres(text) else { throw .init("it must start with postgresql:// or postgres://") }
        guard let components = URLComponents(string: text) else {
            throw .init("it is not a valid URL (characters such as @, :, / or % in the user or password must be percent-encoded)")
        }
        guard let user = components.user, !user.isEmpty else { throw .init("it names no user (postgresql://USER@HOST/DBNAME)") }
        guard let host = components.host, !host.isEmpty else { throw .init("it names no host") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty, !database.contains("/") else {
            throw .init("it must name one database after the host (postgresql://USER@HOST/DBNAME)")
        }
        if let port = components.port, !(1...65_535).contains(port) { throw .init("its port must be from 1 to 65535") }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw .init("it has an unknown parameter '\(item.name)'; accepted: sslmode")
            }
            guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw .init("sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tls = mode
        }
        self.user = user
        password = components.password
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        self.database = database
        self.tls = tls
    }

    /// The URL without the password: what messages and logs show.
    public var redacted: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? text }
        return "postgresql://\(encode(user))@\(shownHost):\(port)/\(encode(database))"
    }

    public var description: String { redacted }
}

/// Why a `--db` PostgreSQL URL was refused: one line, without the URL's password.
public struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    public var description: String {
        "malformed PostgreSQL URL: \(reason); expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME"
    }
}
