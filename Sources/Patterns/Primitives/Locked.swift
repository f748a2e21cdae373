import Synchronization

/// A value behind a mutex that closures and child tasks can share by reference
/// (`Mutex` itself cannot be captured: it is not copyable).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    public func withLock<Result: Sendable>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock(body)
    }

    public var value: Value { mutex.withLock { $0 } }
}
