#if canImport(Glibc)
import Glibc
#endif

/// How libmicrohttpd's worker threads are scheduled by Linux.
///
/// A worker is an event loop: one wake-up serves every connection that is ready. Under the
/// default policy (`SCHED_OTHER`) a worker woken by a request preempts whatever runs on its
/// core, often the very client that sent it, and each request may cost a context switch. Under
/// `SCHED_BATCH` the kernel does not preempt on the worker's wake-up: the worker runs at its
/// turn (its fair share is unchanged) and serves what has arrived by then in one pass. This
/// matters only when the cores are all busy; with an idle core a woken worker runs at once
/// either way.
///
/// Measured on 2 cores with wrk beside the server (GET /healthz, access log on): 64
/// connections, throughput unchanged, p99 about 4 ms instead of 6 (median 0.25 ms instead of
/// 0.12); one wrk thread on 8 connections, 1.45x the throughput (median 26 us instead of 41,
/// p99 5 ms instead of 3.3); one connection, no difference. The p99 gain held only while the
/// machine ran at its faster speed: in its slower periods p99 was about 6.5 ms either way.
///
/// Not the default, because the policy does not stay with the workers: threads a worker starts
/// inherit it too, the timer thread that fires every run's sleeps when a worker's request is
/// the first to need it, and the Swift runtime's pool threads a worker's task makes it start.
/// Under full load their wake-ups would wait their turn as well, and a run's timeline would
/// show it.
public enum WorkerScheduling: String, Sendable, CaseIterable {
    /// `SCHED_BATCH` (opt-in), when the process runs under the default policy (a process
    /// started under another one, say a real-time policy, keeps it).
    case batch
    /// Whatever the thread that starts the server has: `SCHED_OTHER` unless the process was
    /// started under another policy (`chrt`).
    case inherit

    /// Runs `body` with the calling thread under this policy, then gives the thread its own
    /// back: threads created in `body` inherit the policy (glibc creates threads with
    /// `PTHREAD_INHERIT_SCHED`). That is how libmicrohttpd's workers get it: it creates them in
    /// `MHD_start_daemon`, with no hook of ours inside them. `applied` says whether the policy
    /// was set (false for `.inherit`, a process under another policy, or a kernel that refuses).
    func applied<Result>(toThreadsStartedIn body: () -> Result) -> (Result, applied: Bool) {
        #if os(Linux)
        let own = sched_getscheduler(0)
        var ownParameters = sched_param()
        guard self == .batch, own == SCHED_OTHER, sched_getparam(0, &ownParameters) == 0 else { return (body(), false) }
        var parameters = sched_param(sched_priority: 0)
        // Policy calls with pid 0 act on the calling thread only.
        guard sched_setscheduler(0, Self.schedBatch, &parameters) == 0 else { return (body(), false) }
        defer { _ = sched_setscheduler(0, own, &ownParameters) }
        return (body(), true)
        #else
        return (body(), false)
        #endif
    }

    /// Linux's `SCHED_BATCH`, which Glibc's module leaves out (a `_GNU_SOURCE` name).
    static let schedBatch: Int32 = 3
}
