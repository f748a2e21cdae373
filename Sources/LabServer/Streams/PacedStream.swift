import MicroHTTP
import Runs

/// One stream that plays a run's events at a pace (`PacedSubscription`): served by a task of
/// its own rather than by the run's `EventFanout`, since its batches are its own. Paced streams
/// are few and slow (a viewer watching a virtual run unfold), so nothing is gained by sharing.
/// Frames, `retry:`, heartbeats and the shutdown event are the fan-out's (`SSEFrames`).
struct PacedStream {
    let log: EventLog
    let after: Int
    let pace: Double
    let retryInterval: Duration
    let heartbeatInterval: Duration

    func serve(_ writer: StreamWriter) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await deliver(into: writer) }
            group.addTask { await heartbeat(into: writer) }
            await group.next()
            group.cancelAll()
        }
    }

    private func deliver(into writer: StreamWriter) async {
        var subscription = PacedSubscription(log.subscribe(after: after), pace: pace)
        var retry: Int? = SSEFrames.milliseconds(retryInterval)
        while true {
            switch await subscription.next(batchLimit: 256) {
            case .events(let events):
                guard !events.isEmpty else { continue }
                guard (try? await writer.write(SSEFrames.frames(events, retryMilliseconds: retry))) != nil else { return }
                retry = nil
            case .end:
                return
            case .overflowed:
                _ = try? await writer.write(SSEFrames.overflowNotice(maxLag: log.maxLag))
                return
            case .cancelled:
                _ = try? await writer.write(SSEFrames.shutdown(lastEventID: subscription.lastDeliveredID))
                return
            }
        }
    }

    /// Ends when a write fails (the client left) or when cancelled.
    private func heartbeat(into writer: StreamWriter) async {
        while (try? await Task.sleep(for: heartbeatInterval)) != nil {
            guard (try? await writer.write(SSEFrames.heartbeat)) != nil else { return }
        }
    }
}
