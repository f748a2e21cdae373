import Logging
import Synchronization

/// A logger whose messages (with their metadata) a test can read back.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        /// The message followed by its metadata, `key=value` sorted by key.
        let text: String
    }

    private let storage = Mutex<[Entry]>([])

    var logger: Logger {
        Logger(label: "store") { _ in Handler(capture: self) }
    }

    var entries: [Entry] { storage.withLock { $0 } }
    var errors: [String] { entries.filter { $0.level >= .error }.map(\.text) }

    fileprivate func append(_ entry: Entry) {
        storage.withLock { $0.append(entry) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let pairs = all.keys.sorted().map { "\($0)=\(all[$0]!)" }
            capture.append(Entry(level: event.level, text: ([event.message.description] + pairs).joined(separator: " ")))
        }
    }
}
