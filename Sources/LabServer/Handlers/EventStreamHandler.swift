import Foundation
import LabJSON
import MicroHTTP
import Runs

/// `text/event-stream` of a run's events: replay from any id, then live until `run.finished`.
///
/// Invariants: a stream never holds more than one batch of frames of its own (the event log
/// is shared; the writer applies back-pressure); a subscriber too far behind a live run is
/// disconnected with a comment saying so (EventSource reconnects with `Last-Event-ID`);
/// an idle stream sends a heartbeat comment every `heartbeatInterval`, which is also how a
/// departed client is noticed; at shutdown a stream ends with a `server.shutdown` event.
///
/// Subscribers are bounded by the HTTP server's stream limit, one counter: event streams are
/// its only streams. A stream is refused here when the server says it would refuse it, so the
/// answer is a handler's own (logged and counted under its route); the server refuses the rare
/// stream that races past that look.
final class EventStreamHandler: Sendable {
    let heartbeatInterval: Duration
    let retryInterval: Duration
    /// The server's verdict on a stream opened now (`Server.streamRefusal`).
    let streamRefusal: @Sendable () -> Refusal?

    init(heartbeatInterval: Duration, retryInterval: Duration, streamRefusal: @escaping @Sendable () -> Refusal?) {
        self.heartbeatInterval = heartbeatInterval
        self.retryInterval = retryInterval
        self.streamRefusal = streamRefusal
    }

    /// The id to resume after: `Last-Event-ID` or `?after=N` (0 for the whole run).
    /// Both are validated when both are sent; `after` wins.
    static func resumePoint(_ request: Request) throws(LabError) -> Int {
        let after = request.queryFields.filter { $0.0 == "after" }.map(\.1)
        guard after.count <= 1 else { throw .badRequest("after is given more than once", field: "after") }
        let fromQuery = try after.first.map { text throws(LabError) in try eventID(text, field: "after") }
        let fromHeader = try request.header("Last-Event-ID").map { text throws(LabError) in
            try eventID(text.trimmingCharacters(in: .whitespaces), field: "Last-Event-ID")
        }
        return fromQuery ?? fromHeader ?? 0
    }

    private static func eventID(_ text: String, field: String) throws(LabError) -> Int {
        guard let value = Int(text), value >= 0 else {
            throw .badRequest("\(field) must be an event id, an integer from 0 to \(Int.max)", field: field)
        }
        return value
    }

    func stream(_ log: EventLog, after: Int, status: Int = 200, extraHeaders: [(String, String)] = []) throws(LabError) -> Response {
        if let refusal = streamRefusal() { throw .refused(refusal) }
        let headers = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"), ("Access-Control-Allow-Origin", "*")]
        return Response.stream(status: status, contentType: "text/event-stream; charset=utf-8", headers: headers + extraHeaders) { writer in
            await self.pump(log, after: after, into: writer)
        }
    }

    private func pump(_ log: EventLog, after: Int, into writer: StreamWriter) async {
        let retryMs = Int(retryInterval.components.seconds * 1000 + retryInterval.components.attoseconds / 1_000_000_000_000_000)
        guard (try? await writer.write(Array("retry: \(retryMs)\n\n".utf8))) != nil else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.deliver(log, after: after, into: writer) }
            group.addTask { await self.heartbeat(into: writer) }
            await group.next()
            group.cancelAll()
        }
    }

    private func deliver(_ log: EventLog, after: Int, into writer: StreamWriter) async {
        var subscription = log.subscribe(after: after)
        while true {
            switch await subscription.next() {
            case .events(let events):
                var frames: [UInt8] = []
                for event in events { Self.appendFrame(event, to: &frames) }
                guard (try? await writer.write(frames)) != nil else { return }
            case .end:
                return
            case .overflowed:
                let note = ": disconnected: this client fell more than \(log.maxLag) events behind; reconnect with Last-Event-ID\n\n"
                _ = try? await writer.write(Array(note.utf8))
                return
            case .cancelled:
                // The server is shutting down (or the client left): say so if anyone listens.
                let data: JSONValue = ["reason": "shutdown", "last_event_id": .int(subscription.lastDeliveredID)]
                _ = try? await writer.write(Array("event: server.shutdown\ndata: \(data.serialized())\n\n".utf8))
                return
            }
        }
    }

    /// Ends when a write fails (the client left) or when cancelled.
    private func heartbeat(into writer: StreamWriter) async {
        let comment = Array(": heartbeat\n\n".utf8)
        while (try? await Task.sleep(for: heartbeatInterval)) != nil {
            guard (try? await writer.write(comment)) != nil else { return }
        }
    }

    static func appendFrame(_ event: StoredEvent, to frames: inout [UInt8]) {
        frames.append(contentsOf: "id: \(event.id)\nevent: \(event.name)\ndata: ".utf8)
        frames.append(contentsOf: event.data)
        frames.append(contentsOf: "\n\n".utf8)
    }
}
