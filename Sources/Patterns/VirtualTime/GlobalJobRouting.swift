import CConcurrencyHooks

/// Sends the global-executor jobs enqueued on a virtual run's thread to that run's executor.
/// swift-async-algorithms' `debounce` consumes its upstream in a `Task {}` of its own, which
/// inherits no executor preference: without this, it would run on the global pool while the
/// run's executor jumps the clock past it.
///
/// The invariant, each part tested (GlobalJobRoutingTests):
/// - a job of a virtual run never runs off its thread: a task the run starts without a
///   preference is enqueued on the run's thread (started by a job of the run, or woken by its
///   clock), so it joins the run's FIFO queue, and so does every later job of it enqueued there;
/// - jobs of real runs and of the server are never touched: a job enqueued on any other
///   thread goes to the global executor as it would without the hook, and so does one the run
///   hands to the world through its sink (`VirtualExecutor.outsideRun`: a subscriber it
///   resumes is the server's task, not the run's);
/// - a job enqueued for a run that has ended is neither lost nor run by a dead thread: once
///   the executor has shut down, its thread's enqueues go to the global executor, and a job
///   addressed to it after its thread ended is handed to the global executor
///   (`VirtualExecutor.enqueue(unowned:)`).
///
/// Installed once per process, by the first virtual executor; until then the runtime's
/// global enqueue is untouched, and after it the hook costs a thread-local read per job.
enum GlobalJobRouting {
    private static let installation: Void = {
        lab_install_global_enqueue_router { job in
            guard let executor = VirtualExecutor.onCurrentThread else { return false }
            executor.enqueue(unowned: unsafeBitCast(job, to: UnownedJob.self))
            return true
        }
    }()

    /// Installs the hook unless it is already (thread-safe: a `static let` runs once).
    static func install() {
        _ = installation
    }
}
