#ifndef C_TEST_HOOKS_H
#define C_TEST_HOOKS_H

/// Routes the Swift runtime's global-executor enqueues made on chosen threads to a test's
/// own executor. A library that starts unstructured tasks (`Task {}` does not inherit a
/// task executor preference: swift-async-algorithms' debounce does this) would otherwise
/// run part of a test's run on the global pool, where the manual-clock driver cannot see
/// whether it has settled.
///
/// The hook is the runtime's `swift_task_enqueueGlobal_hook`, the one
/// swift-async-algorithms' own validation harness uses. Only enqueues made on a thread whose
/// router context is set are routed; every other thread's jobs go to the global executor
/// as usual, so tests running in parallel are unaffected.

/// Called with the thread's router context and the job (a `swift::Job *`).
typedef void (*lab_route_job_fn)(void *_Nonnull context, void *_Nonnull job);

/// Installs the hook (idempotent; the first `route` wins).
void lab_install_global_enqueue_router(lab_route_job_fn _Nonnull route);

/// The calling thread's router context: non-NULL routes its global enqueues to `route`.
void lab_set_thread_router_context(void *_Nullable context);
void *_Nullable lab_thread_router_context(void);

#endif
