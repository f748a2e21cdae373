/// An event as the log keeps it: its per-run id (from 1, increasing), its name, and its
/// data already serialised to one line of JSON, so a thousand subscribers share one copy.
public struct StoredEvent: Sendable, Hashable {
    public let id: Int
    public let name: String
    public let data: [UInt8]

    public init(id: Int, name: String, data: [UInt8]) {
        self.id = id
        self.name = name
        self.data = data
    }

    public var dataText: String { String(decoding: data, as: UTF8.self) }
}
