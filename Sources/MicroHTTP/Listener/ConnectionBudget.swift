/// The connection bounds a server runs with, decided once from its configuration and the
/// process's open-file limit (see `DescriptorLimit` for why they must fit inside it).
///
/// - `connectionLimit`: the configured value, or the descriptor capacity (at most
///   `defaultConnectionCeiling`) when none was given; a configured value above the capacity
///   is lowered to it, and `warnings` says so.
/// - `maxStreams`: the configured value, or nine tenths of the connection limit when none was
///   given (the rest stays for ordinary requests, so a full house of streams still answers
///   `/healthz`); never above the connection limit, since a stream needs a connection.
public struct ConnectionBudget: Sendable, Equatable {
    /// The automatic connection limit on a machine with a very high open-file limit: past it,
    /// memory (about 16 KB per open event stream, most of it libmicrohttpd's
    /// buffers: `connectionMemoryLimit`) binds before descriptors do.
    public static let defaultConnectionCeiling = 65_536

    public let connectionLimit: Int
    public let maxStreams: Int
    public let descriptors: DescriptorLimit
    /// What was lowered, as sentences for the log.
    public let warnings: [String]

    public init(connectionLimit configuredConnections: Int?, maxStreams configuredStreams: Int?, descriptors: DescriptorLimit) {
        let capacity = descriptors.connectionCapacity
        var warnings: [String] = []
        var connections = configuredConnections ?? min(capacity, Self.defaultConnectionCeiling)
        if connections > capacity {
            warnings.append(
                "connection limit \(connections) does not fit the open-file limit (\(descriptors)) with "
                    + "\(DescriptorLimit.reserve) descriptors kept for the process; using \(capacity)")
            connections = capacity
        }
        var streams = configuredStreams ?? max(1, connections - max(1, connections / 10))
        if streams > connections {
            warnings.append("stream limit \(streams) is above the connection limit; using \(connections)")
            streams = connections
        }
        connectionLimit = connections
        maxStreams = streams
        self.descriptors = descriptors
        self.warnings = warnings
    }

    /// The budget of `configuration` under the process's current open-file limit.
    public init(_ configuration: ServerConfiguration, descriptors: DescriptorLimit = .current()) {
        self.init(connectionLimit: configuration.connectionLimit, maxStreams: configuration.maxStreams, descriptors: descriptors)
    }
}
