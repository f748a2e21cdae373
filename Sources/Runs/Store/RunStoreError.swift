import Foundation
import GRDB

/// Why a run store (SQLite or PostgreSQL) refused to open, or why one of its reads or writes
/// failed.
///
/// Open errors stop the server before it serves (the CLI prints `description` on one line and
/// exits 2), so they never reach HTTP; a failed read reaches the registry, which turns it
/// into `RunsError.storeUnavailable` (a 503). The description always names the store: the file,
/// or the database's URL without its password.
public struct RunStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file was written by a newer version of the service (unknown migrations).
        case newerSchema
        /// Not an SQLite database, or a damaged one.
        case corrupt
        /// The file or its folder cannot be written.
        case readOnly
        /// The disk (or the database's size limit) is full.
        case diskFull
        /// The file cannot be opened at all (missing permission, a folder in its place, ...), or
        /// the database does not exist on its server.
        case cannotOpen
        /// The database server cannot be reached (nothing listens there, or it does not answer).
        case unreachable
        /// The database server refused the credentials.
        case refused
        /// Anything else SQLite reported.
        case failed
    }

    public let kind: Kind
    /// The file, or the database's URL without its password.
    public let path: String
    /// What went wrong, in SQLite's words or ours.
    public let detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .newerSchema:
            "the run store \(path) was written by a newer version of concurrency-lab (\(detail)); "
                + "upgrade, or start with another --db"
        case .corrupt:
            "the run store \(path) is not a valid SQLite database or is damaged (\(detail)); "
                + "move it aside, or start with another --db"
        case .readOnly:
            "the run store \(path) cannot be written (\(detail)); check the permissions of the file and its folder"
        case .diskFull:
            "the run store \(path) is full (\(detail))"
        case .cannotOpen:
            "cannot open the run store \(path) (\(detail))"
        case .unreachable:
            "cannot reach the run store \(path) (\(detail)); is PostgreSQL running there?"
        case .refused:
            "the run store \(path) refused the credentials (\(detail)); check the URL's user and password"
        case .failed:
            "the run store \(path) failed (\(detail))"
        }
    }

    /// Classifies any error from GRDB or the file system by its SQLite result code.
    static func classifying(_ error: any Error, path: String) -> RunStoreError {
        if let error = error as? RunStoreError { return error }
        guard let error = error as? DatabaseError else {
            return RunStoreError(kind: .failed, path: path, detail: String(describing: error))
        }
        let detail = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
        let kind: Kind =
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: .corrupt
            case .SQLITE_READONLY: .readOnly
            case .SQLITE_FULL: .diskFull
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH: .cannotOpen
            default: .failed
            }
        return RunStoreError(kind: kind, path: path, detail: detail)
    }
}
