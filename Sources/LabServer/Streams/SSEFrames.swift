import Runs

/// The bytes of `text/event-stream`: the one place that writes them.
///
/// A frame is `id: N`, `event: NAME`, `data: ONE-LINE-JSON`, then a blank line. `retry:` rides in
/// the first block a stream sends (a block of its own would reach SSE libraries as an event with
/// empty data). Comments (`: ...`) keep idle connections alive and say why a stream was cut.
enum SSEFrames {
    /// Appends the frames of `events` to `bytes`, the first one carrying `retry` when given.
    static func append(_ events: some Collection<StoredEvent>, retryMilliseconds: Int? = nil, to bytes: inout [UInt8]) {
        var retry = retryMilliseconds
        for event in events {
            if let milliseconds = retry {
                bytes.append(contentsOf: "retry: \(milliseconds)\n".utf8)
                retry = nil
            }
            bytes.append(contentsOf: "id: \(event.id)\nevent: \(event.name)\ndata: ".utf8)
            bytes.append(contentsOf: event.data)
            bytes.append(contentsOf: "\n\n".utf8)
        }
    }

    static func frames(_ events: some Collection<StoredEvent>, retryMilliseconds: Int? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(events.reduce(0) { $0 + $1.data.count + 48 })
        append(events, retryMilliseconds: retryMilliseconds, to: &bytes)
        return bytes
    }

    static let heartbeat = Array(": heartbeat\n\n".utf8)

    static func overflowNotice(maxLag: Int) -> [UInt8] {
        Array(": disconnected: this client fell more than \(maxLag) events behind; reconnect with Last-Event-ID\n\n".utf8)
    }

    /// The last frame of a stream the server ends while its run goes on (shutdown).
    static func shutdown(lastEventID: Int) -> [UInt8] {
        Array("event: server.shutdown\ndata: {\"last_event_id\":\(lastEventID),\"reason\":\"shutdown\"}\n\n".utf8)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
