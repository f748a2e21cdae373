#ifndef C_CONCURRENCY_HOOKS_H
#define C_CONCURRENCY_HOOKS_H

#include <stdbool.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Lets the pattern engine route the Swift runtime's global-executor enqueues elsewhere. A
/// library that starts unstructured tasks (`Task {}` does not inherit a task executor
/// preference: swift-async-algorithms' debounce does this) would otherwise run part of a
/// virtual run on the global pool, where the run's executor cannot see whether it has settled.
///
/// The hook is the runtime's `swift_task_enqueueGlobal_hook`, the one swift-async-algorithms'
/// own validation harness uses. `route` decides per job: Patterns' `GlobalJobRouting` takes
/// the jobs enqueued on a virtual run's own thread and declines every other (those go to the
/// global executor exactly as without the hook), so real runs and the server are untouched.
/// Used by Patterns only (ARCHITECTURE.md).

/// Called with each job (a `swift::Job *`); true when it took the job.
typedef bool (*lab_route_job_fn)(void *_Nonnull job);

/// Installs the hook (idempotent; the first `route` wins).
void lab_install_global_enqueue_router(lab_route_job_fn _Nonnull route);

/// Names the calling thread: what `top -H`, `perf report --sort comm` and
/// /proc/PID/task/TID/comm show (the kernel keeps the first 15 bytes). `prctl` is variadic, so
/// Swift cannot call it itself. Without a name a thread shows its creator's: the run threads
/// showed as "oot.default-qos", the name of the Dispatch thread that started them.
static inline void lab_set_current_thread_name(const char *_Nonnull name) {
#ifdef __linux__
    (void) prctl(PR_SET_NAME, (unsigned long) name, 0UL, 0UL, 0UL);
#else
    (void) name;
#endif
}

#endif
