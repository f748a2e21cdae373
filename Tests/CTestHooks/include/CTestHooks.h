#ifndef C_TEST_HOOKS_H
#define C_TEST_HOOKS_H

#include <stdbool.h>

/// Lets a test route the Swift runtime's global-executor enqueues elsewhere. A library that
/// starts unstructured tasks (`Task {}` does not inherit a task executor preference:
/// swift-async-algorithms' debounce does this) would otherwise run part of a test's virtual
/// run on the global pool, where the virtual executor cannot see whether it has settled.
///
/// The hook is the runtime's `swift_task_enqueueGlobal_hook`, the one
/// swift-async-algorithms' own validation harness uses. `route` decides per job: it takes
/// the jobs enqueued on a virtual run's own thread and declines every other (those go to
/// the global executor as usual), so tests running in parallel are unaffected.

/// Called with each job (a `swift::Job *`); true when it took the job.
typedef bool (*lab_route_job_fn)(void *_Nonnull job);

/// Installs the hook (idempotent; the first `route` wins).
void lab_install_global_enqueue_router(lab_route_job_fn _Nonnull route);

#endif
