import MicroHTTP
import Synchronization

extension EventFanout {
    /// One event stream served by a fan-out.
    ///
    /// Its cursor, phase and pending `retry:` belong to the fan-out's task alone (see
    /// `EventFanout`), which is why the class is `@unchecked Sendable`. No task waits for it:
    /// ending it finishes its stream.
    final class Subscriber: @unchecked Sendable {
        enum Phase {
            /// Has every event up to the fan-out's shared cursor: gets each new batch as built.
            case current
            /// Behind the shared cursor (replaying, or skipped while full): catches up on its own.
            case behind
            case ended
        }

        let writer: StreamWriter
        /// The last event id this stream was given.
        var cursor: Int
        /// The log's length when it subscribed: replaying up to there never counts as lag.
        let backlogEnd: Int
        var phase = Phase.behind
        /// Its stream refused the last offer; it is skipped until the stream drains.
        var isFull = false
        /// `retry:` goes out with the first frame.
        var retryPending = true

        private let tally: SubscriberTally

        init(writer: StreamWriter, after: Int, backlogEnd: Int, tally: SubscriberTally) {
            self.writer = writer
            cursor = max(0, after)
            self.backlogEnd = backlogEnd
            self.tally = tally
            tally.alive.wrappingAdd(1, ordering: .relaxed)
        }

        deinit {
            tally.alive.wrappingSubtract(1, ordering: .relaxed)
        }

        /// Ends its stream: what is buffered is sent, then the response ends.
        func end() {
            phase = .ended
            writer.finish()
        }
    }
}
