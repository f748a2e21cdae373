"""The twelve patterns of DESIGN.md section 4 as the mock server's catalog.

Shapes follow the API contract (section 3): each entry has name, title, summary, asyncio,
swift, swift_note, parameters, invariants and events. Texts are close to what the real
server says but not authoritative; the page must work with whatever the server sends.
"""

MAX_COUNT = 100_000
MAX_GATHER = 1_000_000
MAX_DELAY = 60_000
MAX_PLANNED_MS = 300_000
SPAN_CAP = 10_000


def integer(name, default, lo, hi, description):
    return {"name": name, "type": "integer", "default": default, "min": lo, "max": hi,
            "description": description}


def boolean(name, default, description):
    return {"name": name, "type": "boolean", "default": default, "description": description}


def choice(name, default, choices, description):
    return {"name": name, "type": "string", "default": default, "choices": choices,
            "description": description}


def integer_list(name, default, lo, hi, max_items, description):
    return {"name": name, "type": "integer_list", "default": default, "min": lo, "max": hi,
            "max_items": max_items, "description": description}


def delay(name, default, description):
    return integer(name, default, 0, MAX_DELAY, description)


PATTERNS = [
    {
        "name": "gather", "title": "Gather: run many, collect in order",
        "summary": "Starts every task at once and waits for all of them; results come back in input "
                   "order however the tasks finish, and the whole takes as long as the slowest task, "
                   "not the sum.",
        "asyncio": "asyncio.gather(*coros)",
        "swift": "withThrowingDiscardingTaskGroup, results stored by index",
        "swift_note": "A Swift task group yields results in completion order; gather's input order "
                      "is restored by index.",
        "parameters": [
            integer("count", 10, 1, MAX_GATHER, "How many tasks to run concurrently."),
            delay("delay_ms", 100, "How long each task sleeps."),
            delay("jitter_ms", 0, "Up to this much extra delay per task, drawn from the seed."),
            integer("seed", 42, 0, 2_147_483_647, "Seed for the jitter."),
        ],
        "invariants": ["results are in input order", "wall time >= the longest task's delay",
                       "wall time < the sum of the delays (the tasks overlapped)"],
        "events": [],
    },
    {
        "name": "task-group", "title": "Task group: one failure cancels the rest",
        "summary": "Runs children in a structured group; when one fails, the group cancels every "
                   "sibling and ends only after all of them have ended.",
        "asyncio": "asyncio.TaskGroup", "swift": "withThrowingTaskGroup",
        "swift_note": "Cancellation is cooperative: a child notices at its next suspension point. "
                      "The group rethrows the first error only.",
        "parameters": [
            integer("count", 5, 1, MAX_COUNT, "How many children."),
            delay("delay_ms", 300, "How long each child works."),
            integer("fail_index", 2, 0, MAX_COUNT - 1, "Which child throws (must be < count)."),
            delay("fail_after_ms", 100, "When the failing child throws."),
        ],
        "invariants": ["a failure cancels every sibling", "the group ends only after all children end"],
        "events": ["group.cancel_all"],
    },
    {
        "name": "timeout", "title": "Timeout: bound a wait",
        "summary": "Races an operation against the clock; the operation is cancelled when the "
                   "deadline passes first.",
        "asyncio": "asyncio.wait_for, asyncio.timeout", "swift": "race against the clock in a task group",
        "swift_note": "Swift has no built-in timeout: the operation and a sleep race in a group and "
                      "the loser is cancelled.",
        "parameters": [
            delay("operation_ms", 500, "How long the operation takes."),
            delay("timeout_ms", 200, "The deadline."),
            choice("style", "wait_for", ["wait_for", "deadline"], "wait_for(coro, t) or async with timeout(t)."),
        ],
        "invariants": ["times out iff operation > timeout", "elapsed >= timeout when it times out",
                       "the operation saw cancellation"],
        "events": ["timeout.fired"],
    },
    {
        "name": "semaphore", "title": "Semaphore: bound concurrency",
        "summary": "Runs many tasks but lets at most `limit` of them work at once; the rest wait "
                   "for a permit.",
        "asyncio": "asyncio.Semaphore", "swift": "an async semaphore (actor + continuations)",
        "swift_note": "Swift has no async semaphore in the standard library; DispatchSemaphore would "
                      "block a cooperative thread.",
        "parameters": [
            integer("count", 10, 1, MAX_COUNT, "How many tasks."),
            integer("limit", 3, 1, MAX_COUNT, "How many may hold a permit at once."),
            delay("delay_ms", 200, "How long each task holds its permit."),
        ],
        "invariants": ["peak in-flight == min(limit, count)", "wall ~ ceil(count / limit) * delay"],
        "events": ["semaphore.acquired", "semaphore.released"],
    },
    {
        "name": "producer-consumer", "title": "Producer/consumer: a bounded queue",
        "summary": "Producers put items on a bounded queue and block when it is full; consumers take "
                   "them off; a sentinel per consumer ends the run.",
        "asyncio": "asyncio.Queue(maxsize) + sentinel", "swift": "a bounded async queue",
        "swift_note": "AsyncStream's buffering policies drop items instead of blocking the producer; "
                      "this queue suspends producers instead.",
        "parameters": [
            integer("items", 20, 1, MAX_COUNT, "How many items in total."),
            integer("producers", 2, 1, 1000, "How many producers."),
            integer("consumers", 3, 1, 1000, "How many consumers."),
            integer("maxsize", 4, 1, MAX_COUNT, "Queue capacity."),
            delay("produce_ms", 20, "Time to produce an item."),
            delay("consume_ms", 60, "Time to consume an item."),
        ],
        "invariants": ["size never > maxsize", "every item consumed exactly once",
                       "producers blocked when full"],
        "events": ["queue.put", "queue.get", "producer.blocked"],
    },
    {
        "name": "gather-errors", "title": "Gather with errors: collect failures",
        "summary": "Like gather, but some tasks fail; with return_exceptions the failures come back "
                   "in place, without it the first error surfaces.",
        "asyncio": "asyncio.gather(..., return_exceptions=True)", "swift": "a task group of Result",
        "swift_note": "",
        "parameters": [
            integer("count", 8, 1, MAX_COUNT, "How many tasks."),
            integer_list("fail_indices", [2, 5], 0, MAX_COUNT - 1, 64, "Which tasks fail."),
            delay("delay_ms", 150, "How long each task takes."),
            boolean("return_exceptions", True, "Return failures in place instead of raising the first."),
        ],
        "invariants": ["with it: N results, failures in place, nothing cancelled",
                       "without: the first error surfaces"],
        "events": [],
    },
    {
        "name": "event", "title": "Event: wait for a signal",
        "summary": "Waiters block on an event until it is set; then all of them proceed at once.",
        "asyncio": "asyncio.Event", "swift": "a continuation-based event",
        "swift_note": "",
        "parameters": [
            integer("waiters", 5, 1, MAX_COUNT, "How many tasks wait."),
            delay("set_after_ms", 300, "When the event is set."),
        ],
        "invariants": ["no waiter proceeds before the set", "all proceed after it"],
        "events": ["event.set"],
    },
    {
        "name": "lock", "title": "Lock: protect read-await-write",
        "summary": "Tasks increment a shared counter with an await between read and write; "
                   "without the lock, updates are lost.",
        "asyncio": "asyncio.Lock", "swift": "an async lock around read-await-write",
        "swift_note": "An actor alone does not help: its reentrancy at the await lets another task in.",
        "parameters": [
            integer("increments", 10, 1, MAX_COUNT, "How many tasks increment."),
            boolean("use_lock", True, "Hold the lock across the read-await-write."),
            delay("hold_ms", 20, "The await between read and write."),
        ],
        "invariants": ["with the lock the counter == increments",
                       "without it, lost updates are counted and > 0"],
        "events": ["lock.acquired", "lock.released"],
    },
    {
        "name": "periodic", "title": "Periodic task: tick until cancelled",
        "summary": "A loop does some work every interval until it is cancelled; drift is measured.",
        "asyncio": "loop + asyncio.sleep + task.cancel()", "swift": "a cancellable periodic task",
        "swift_note": "",
        "parameters": [
            integer("interval_ms", 100, 1, MAX_DELAY, "Time between ticks."),
            delay("duration_ms", 1000, "When the loop is cancelled."),
            delay("work_ms", 10, "Work per tick."),
        ],
        "invariants": ["ticks ~ duration / interval", "drift reported", "no tick after cancellation"],
        "events": ["tick"],
    },
    {
        "name": "first-completed", "title": "First completed: race and cancel the losers",
        "summary": "Starts several tasks and takes the first to finish; every other one is cancelled.",
        "asyncio": "asyncio.wait(return_when=FIRST_COMPLETED)", "swift": "group.next() + cancelAll()",
        "swift_note": "",
        "parameters": [
            integer_list("delays_ms", [300, 100, 200], 0, MAX_DELAY, 64, "Each racer's delay."),
            integer("count", None, 1, 1000, "Instead of delays_ms: this many racers with jittered delays."),
            delay("jitter_ms", 100, "Jitter when count is given."),
        ],
        "invariants": ["the winner has the least delay", "every loser is cancelled and never completes"],
        "events": ["race.won"],
    },
    {
        "name": "resource-scope", "title": "Resource scope: release in reverse",
        "summary": "Acquires resources in nested scopes and releases each exactly once, in reverse "
                   "order, whether the body succeeds, throws or is cancelled.",
        "asyncio": "async with", "swift": "scoped acquire/release (with... { } closures)",
        "swift_note": "Swift has no async defer; the scope function releases in its own error paths.",
        "parameters": [
            integer("resources", 3, 1, 1000, "How many nested resources."),
            delay("use_ms", 100, "How long the body uses them."),
            boolean("fail_in_body", False, "Throw inside the innermost body."),
        ],
        "invariants": ["every acquired resource is released exactly once",
                       "in reverse order, on success, failure and cancellation"],
        "events": ["resource.acquired", "resource.released"],
    },
    {
        "name": "blocking-offload", "title": "Blocking work: offload to a thread",
        "summary": "Blocking calls run on a dedicated thread so the async heartbeat keeps its rhythm; "
                   "inline, they starve it.",
        "asyncio": "loop.run_in_executor", "swift": "blocking work on a dedicated thread",
        "swift_note": "Blocking a cooperative-pool thread starves every task on it; the pool has only "
                      "as many threads as cores.",
        "parameters": [
            integer("tasks", 4, 1, 1000, "How many blocking calls."),
            delay("block_ms", 200, "How long each blocks."),
            choice("mode", "offload", ["offload", "inline"], "Where the blocking call runs."),
            integer("heartbeat_ms", 20, 1, 10_000, "The heartbeat's interval."),
        ],
        "invariants": ["offloaded: the heartbeat's largest gap stays near its interval",
                       "inline: the starvation is measured and shown"],
        "events": ["heartbeat.gap"],
    },
]

BY_NAME = {entry["name"]: entry for entry in PATTERNS}
