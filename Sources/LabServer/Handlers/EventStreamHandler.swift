import Foundation
import LabJSON
import MicroHTTP
import Runs

/// `text/event-stream` of a run's events: replay from any id, then live until `run.finished`.
///
/// Delivery is an `EventFanout` per run (one pass per appended batch writes every caught-up
/// stream); this handler admits streams and answers what needs no stream at all: a finished
/// run whose client already has its last event gets `204 No Content`, which tells an
/// EventSource to stop reconnecting. Frames are `SSEFrames`; `retry:` rides in the first one.
/// An idle stream gets a heartbeat comment every `heartbeatInterval` (also how a departed client
/// is noticed); at shutdown each stream ends with a `server.shutdown` event.
///
/// A stream's connection ends with it (`Connection: close`). Kept alive, libmicrohttpd clears the
/// connection's whole memory pool for the next request, which made every page of it resident
/// at once: when a run with 10,000 subscribers finished, the server grew by 4 KB per stream
/// (15.5 KB to 19.4 KB each) for connections their clients were about to close anyway.
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
    let fanouts: EventFanouts

    init(heartbeatInterval: Duration, retryInterval: Duration, streamRefusal: @escaping @Sendable () -> Refusal?) {
        self.heartbeatInterval = heartbeatInterval
        self.retryInterval = retryInterval
        self.streamRefusal = streamRefusal
        fanouts = EventFanouts(retryInterval: retryInterval, heartbeatInterval: heartbeatInterval)
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

    /// `pace`: play the events at that factor of the pace they happened (`PaceParameter`; a
    /// paced stream is served on its own, `PacedStream`, since it shares no batch with others).
    func stream(
        _ log: EventLog, after: Int, pace: Double? = nil, status: Int = 200, extraHeaders: [(String, String)] = []
    ) throws(LabError) -> Response {
        if log.isFinished, after >= log.count {
            return Response(status: 204, headers: [("Cache-Control", "no-cache")] + extraHeaders)
        }
        if let refusal = streamRefusal() { throw .refused(refusal) }
        let headers = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"), ("Connection", "close")]
        let contentType = "text/event-stream; charset=utf-8"
        guard let pace else {
            return Response.attachedStream(status: status, contentType: contentType, headers: headers + extraHeaders) { writer in
                self.fanouts.attach(writer, log: log, after: after)
            }
        }
        return Response.stream(status: status, contentType: contentType, headers: headers + extraHeaders) { writer in
            await PacedStream(log: log, after: after, pace: pace, retryInterval: self.retryInterval,
                              heartbeatInterval: self.heartbeatInterval).serve(writer)
        }
    }
}
