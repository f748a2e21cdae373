import Foundation
import Logging
import PostgresStore
import Runs

/// `--db` (or `LAB_DATABASE_URL`) to a store: a PostgreSQL URL opens the shared store here;
/// anything else is the SQLite file (or `:memory:`) the server opens itself.
enum StoreOpener {
    /// Why `serve` cannot start with the store it was given: one line, never the password.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func isPostgres(_ storage: StorageOptions) -> Bool {
        PostgresURL.isPostgres(storage.location)
    }

    /// The PostgreSQL store, or nil when `--db` names SQLite.
    static func open(_ storage: StorageOptions, _ network: NetworkOptions, logger: Logger) async throws(Failure) -> (any RunStore)? {
        let location = storage.location
        guard PostgresURL.isPostgres(location) else { return nil }
        let url: PostgresURL
        do {
            url = try PostgresURL(location)
        } catch {
            throw Failure(description: "--db: \(error)")
        }
        var storeLogger = logger
        storeLogger[metadataKey: "component"] = "store"
        let defaultName = network.port == 0 ? nil : "\(ProcessInfo.processInfo.hostName):\(network.port)"
        let options = PostgresRunStore.Options(
            instanceName: storage.instanceName ?? defaultName, address: "\(network.host):\(network.port)",
            retention: RunRetention(keepRuns: storage.keepRuns, keepDays: storage.keepDays),
            lease: .seconds(storage.leaseSeconds), clusterMaxConcurrentRuns: storage.clusterMaxConcurrentRuns)
        do {
            let store = try await PostgresRunStore.open(url: url, options: options, logger: storeLogger)
            logger.notice(
                "run store: PostgreSQL \(url.redacted)",
                metadata: ["instance": "\(store.instanceID)", "name": "\(options.instanceName ?? "none")"])
            return store
        } catch {
            throw Failure(description: error.description)
        }
    }
}
