// A minimal MicroHTTP server for measuring against Benchmarks/reference/hello.c:
// GET /healthz answered on the fast path (`.now`), GET /async through the
// suspend -> Task -> resume path. Same bind, thread pool and memory limit as the C server.
//
// usage: MicroHTTPBench PORT [THREADS]   (runs until SIGINT/SIGTERM, then shuts down)
import Dispatch
import Logging
import MicroHTTP

#if canImport(Glibc)
import Glibc
#endif

struct BenchHandler: HTTPHandler {
    static let health = Array(#"{"status":"ok"}"#.utf8)

    func handle(_ request: Request) -> Handling {
        guard request.path != "/healthz" else { return .now(.json(bytes: Self.health)) }
        return .later { request in
            request.path == "/async" ? .json(bytes: Self.health) : .text(status: 404, "Not Found")
        }
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let port = UInt16(arguments[1]) else {
    print("usage: MicroHTTPBench PORT [THREADS]")
    exit(2)
}
var configuration = ServerConfiguration()
configuration.port = port
if arguments.count > 2, let threads = Int(arguments[2]) { configuration.threadPoolSize = threads }
configuration.logger.logLevel = .warning
let server = Server(configuration: configuration, handler: BenchHandler())
try server.start()
print("MicroHTTPBench: listening on 127.0.0.1:\(server.port) with \(configuration.threadPoolSize) threads")

Shutdown.waitForSignalThenStop(server)
print("MicroHTTPBench: stopped")

/// Blocks the main thread until SIGINT or SIGTERM, then shuts the server down gracefully.
/// A nonisolated type on purpose: a closure written at the top level of main.swift would be
/// MainActor-isolated, and the signal source calls it from a dispatch thread.
enum Shutdown {
    static func waitForSignalThenStop(_ server: Server) {
        let signalled = DispatchSemaphore(value: 0)
        let sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { signalled.signal() }
            source.resume()
            return source
        }
        signalled.wait()
        sources.forEach { $0.cancel() }
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await server.shutdown(deadline: .seconds(5))
            stopped.signal()
        }
        stopped.wait()
    }
}
