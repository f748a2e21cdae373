import CMicroHTTPD
import Synchronization

/// A libmicrohttpd connection pointer that may cross to another thread.
///
/// Only ever used there to resume a connection this process suspended: libmicrohttpd cannot
/// close a suspended connection, so the pointer stays valid until the resume.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Every `MHD_suspend_connection` and `MHD_resume_connection` MicroHTTP makes goes through here.
///
/// Invariant: `count` is the number of connections we suspended whose resume call has not yet
/// returned. It is raised before suspending and lowered only after the resume call returns, so
/// it never reads 0 while a connection is suspended. `MHD_stop_daemon` with a suspended
/// connection aborts the process; shutdown calls it only once admission is closed, every stream
/// is closed (so nothing can suspend again) and this ledger reads 0.
final class SuspensionLedger: Sendable {
    private let count = Atomic<Int>(0)

    /// Suspends `connection`. Call only from an access-handler or content-reader callback.
    func suspend(_ connection: OpaquePointer) {
        count.wrappingAdd(1, ordering: .sequentiallyConsistent)
        MHD_suspend_connection(connection)
    }

    /// Resumes a connection suspended through `suspend`, exactly once per suspension.
    func resume(_ connection: ConnectionHandle) {
        MHD_resume_connection(connection.pointer)
        count.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    var suspendedCount: Int { count.load(ordering: .sequentiallyConsistent) }

    /// Waits until no connection is suspended. Used only at the end of shutdown, when every
    /// resume is already under way on some thread, so the wait is short; polling keeps the hot
    /// path down to one atomic add per suspension.
    func waitUntilEmpty() async {
        while suspendedCount > 0 {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
