import Dispatch
import Foundation

/// Turns SIGTERM/SIGINT into an async event. The first signal starts a graceful drain; after
/// `exitOnNextSignal()`, another one exits the process at once.
///
/// `@unchecked`: the dispatch sources are set once in `init` and only receive
/// `setEventHandler`, which Dispatch makes safe from any thread.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)  // the dispatch source handles it instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    func first() async -> Int32? {
        for await number in stream { return number }
        return nil
    }

    func exitOnNextSignal() {
        for source in sources {
            source.setEventHandler {
                FileHandle.standardError.write(Data("second signal: exiting now\n".utf8))
                exit(1)
            }
        }
    }
}
