#include "CConcurrencyHooks.h"
#include <stdatomic.h>
#include <stddef.h>

typedef void (__attribute__((swiftcall)) *lab_original_enqueue_fn)(void *job);
typedef void (__attribute__((swiftcall)) *lab_enqueue_hook_fn)(void *job, lab_original_enqueue_fn original);

/// Exported by libswift_Concurrency.
extern lab_enqueue_hook_fn swift_task_enqueueGlobal_hook;

static _Atomic(lab_route_job_fn) route_job = NULL;

static void __attribute__((swiftcall)) lab_enqueue_global(void *job, lab_original_enqueue_fn original) {
    lab_route_job_fn route = atomic_load(&route_job);
    if (route == NULL || !route(job)) {
        original(job);
    }
}

void lab_install_global_enqueue_router(lab_route_job_fn route) {
    lab_route_job_fn expected = NULL;
    if (atomic_compare_exchange_strong(&route_job, &expected, route)) {
        swift_task_enqueueGlobal_hook = lab_enqueue_global;
    }
}
