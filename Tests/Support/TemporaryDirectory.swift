import Foundation

/// A fresh directory under the system's temporary directory, deleted (with everything in
/// it, whatever a test did to its permissions) when the value goes away.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("concurrency-lab-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    deinit {
        let fileManager = FileManager.default
        if let contents = fileManager.enumerator(atPath: url.path) {
            for case let name as String in contents {
                try? fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path(name))
            }
        }
        try? fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        try? fileManager.removeItem(at: url)
    }
}
