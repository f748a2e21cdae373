import Foundation
import MicroHTTP

/// The browser page: every file under `public/`, read once at start and served from memory.
///
/// A request path can never escape the folder: only files found by walking the folder at
/// start are served, looked up by their exact relative path, and a path that decodes to
/// anything with `..`, a backslash or a NUL is refused before the lookup.
public struct StaticFiles: Sendable {
    struct File: Sendable {
        let contentType: String
        let bytes: [UInt8]
        let etag: String
    }

    private let files: [String: File]

    public init(directory: URL) throws {
        var files: [String: File] = [:]
        let root = directory.standardizedFileURL.resolvingSymlinksInPath()
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let path = String(url.standardizedFileURL.resolvingSymlinksInPath().path.dropFirst(root.path.count))
            guard path.hasPrefix("/") else { continue }  // a symlink out of the folder
            let bytes = [UInt8](try Data(contentsOf: url))
            files[path] = File(
                contentType: Self.contentType(of: url.pathExtension), bytes: bytes,
                etag: "\"\(String(bytes.count, radix: 16))-\(String(UInt32(truncatingIfNeeded: Self.checksum(bytes)), radix: 16))\"")
        }
        self.files = files
    }

    public var paths: [String] { files.keys.sorted() }

    /// The response for `rawPath` (undecoded), or nil when no file is there.
    public func response(for rawPath: String, ifNoneMatch: String?) -> Response? {
        guard let decoded = FormCoding.percentDecoded(rawPath), Self.isSafe(decoded) else { return nil }
        let path = decoded == "/" ? "/index.html" : decoded
        guard let file = files[path] else { return nil }
        let headers = [("Content-Type", file.contentType), ("Cache-Control", "no-cache"), ("ETag", file.etag)]
        if ifNoneMatch == file.etag { return Response(status: 304, headers: headers, body: .bytes([])) }
        return Response(status: 200, headers: headers, body: .bytes(file.bytes))
    }

    static func isSafe(_ path: String) -> Bool {
        path.hasPrefix("/") && !path.contains("..") && !path.contains("\\") && !path.contains("\0") && !path.contains("//")
    }

    static func contentType(of pathExtension: String) -> String {
        switch pathExtension.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "txt": "text/plain; charset=utf-8"
        case "yaml", "yml": "application/yaml"
        default: "application/octet-stream"
        }
    }

    /// FNV-1a: enough to tell versions of a file apart for `ETag`.
    static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
