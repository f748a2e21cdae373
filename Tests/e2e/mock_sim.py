"""Deterministic simulations of the twelve patterns for the mock server.

Each simulation returns a Plan computed up front: the spans every task will have, the
pattern's own events, its figures and its checks. The mock server then releases the
events as wall-clock time passes, so the page sees a live run without any real concurrency.
"""

import heapq
import math
import random
from dataclasses import dataclass, field

from mock_catalog import SPAN_CAP


@dataclass
class Plan:
    spans: list = field(default_factory=list)   # dicts: task, label, start_ms, end_ms, outcome, error?
    events: list = field(default_factory=list)  # (t_ms, name, data) pattern events
    result: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)
    total: int = 0
    outcomes: dict = field(default_factory=lambda: {"ok": 0, "error": 0, "cancelled": 0, "timeout": 0})
    failed: str | None = None                   # run-level error: the run ends `failed`

    def span(self, task, start, end, outcome="ok", error=None, label=None):
        self.outcomes[outcome] += 1
        if task >= SPAN_CAP:
            return
        entry = {"task": task, "label": label or f"task-{task}", "start_ms": round(start, 1),
                 "end_ms": round(end, 1), "outcome": outcome}
        if error:
            entry["error"] = error
        self.spans.append(entry)

    def event(self, t, name, **data):
        task = data.get("task")
        if task is None or task < SPAN_CAP:
            self.events.append((round(t, 1), name, data))

    def check(self, name, expected, observed, passed):
        self.checks.append({"name": name, "expected": expected, "observed": observed, "passed": bool(passed)})

    @property
    def duration(self):
        ends = [s["end_ms"] for s in self.spans] + [e[0] for e in self.events]
        return round(max(ends, default=0.0) + 0.4, 1)


def jitter(seed, index, maximum):
    return 0 if maximum == 0 else random.Random(seed * 1_000_003 + index).randint(0, maximum)


def gather(p):
    plan = Plan(total=p["count"])
    delays = [p["delay_ms"] + jitter(p["seed"], i, p["jitter_ms"]) for i in range(p["count"])]
    for i, d in enumerate(delays):
        plan.span(i, 0.1 + i * 0.001, 0.3 + d + i * 0.001)
    wall = plan.duration
    plan.result = {"count": p["count"], "wall_ms": wall, "longest_delay_ms": max(delays),
                   "sum_delay_ms": sum(delays), "results_in_order": p["count"]}
    plan.check("results_in_input_order", f"== {p['count']}", p["count"], True)
    plan.check("wall_at_least_longest_task", f">= {max(delays)} ms", wall, wall >= max(delays))
    if sum(delays) > max(delays):
        plan.check("concurrent_not_sequential", f"< {sum(delays)} ms (sum of delays)", wall, wall < sum(delays))
    return plan


def task_group(p):
    plan = Plan(total=p["count"])
    fail_at = p["fail_after_ms"] + 0.2
    cancelled = 0
    for i in range(p["count"]):
        if i == p["fail_index"]:
            plan.span(i, 0.1, fail_at, "error", error="InjectedFailure(index: %d)" % i)
        elif p["delay_ms"] + 0.2 <= fail_at:
            plan.span(i, 0.1, p["delay_ms"] + 0.2)
        else:
            plan.span(i, 0.1, fail_at + 0.3, "cancelled")
            cancelled += 1
    plan.event(fail_at + 0.1, "group.cancel_all", reason="child %d failed" % p["fail_index"])
    plan.result = {"children": p["count"], "failed_index": p["fail_index"], "cancelled": cancelled,
                   "rethrown": "InjectedFailure"}
    plan.check("siblings_cancelled_on_failure", "every unfinished sibling", cancelled, True)
    plan.check("group_ends_after_children", "true", True, True)
    return plan


def timeout(p):
    plan = Plan(total=1)
    times_out = p["operation_ms"] > p["timeout_ms"]
    end = (p["timeout_ms"] if times_out else p["operation_ms"]) + 0.3
    plan.span(0, 0.1, end, "timeout" if times_out else "ok", label="operation")
    if times_out:
        plan.event(p["timeout_ms"] + 0.2, "timeout.fired", task=0, after_ms=p["timeout_ms"])
    plan.result = {"timed_out": times_out, "elapsed_ms": end, "style": p["style"]}
    plan.check("times_out_iff_operation_longer", str(times_out).lower(), times_out, True)
    plan.check("elapsed_at_least_timeout" if times_out else "elapsed_at_least_operation",
               ">= %d ms" % min(p["timeout_ms"], p["operation_ms"]), end, True)
    return plan


def semaphore(p):
    count, limit, hold = p["count"], p["limit"], p["delay_ms"]
    plan = Plan(total=count)
    free_at = [0.1] * min(limit, count)
    heapq.heapify(free_at)
    peak = min(limit, count)
    for i in range(count):
        start = heapq.heappop(free_at) + 0.05
        end = start + hold + 0.2
        in_flight = min(limit, count - (i // limit) * limit)
        plan.span(i, start, end)
        plan.event(start + 0.02, "semaphore.acquired", task=i, in_flight=in_flight)
        plan.event(end - 0.02, "semaphore.released", task=i, in_flight=in_flight - 1)
        heapq.heappush(free_at, end)
    waves = math.ceil(count / limit)
    wall = plan.duration
    plan.result = {"peak_in_flight": peak, "limit": limit, "waves": waves, "wall_ms": wall,
                   "expected_wall_ms": waves * hold}
    plan.check("peak_concurrency_within_limit", f"<= {limit}", peak, peak <= limit)
    plan.check("peak_concurrency_reached", f"== {min(limit, count)}", peak, True)
    plan.check("wall_near_waves_times_delay", f"~ {waves * hold} ms", wall, wall >= waves * hold)
    return plan


def producer_consumer(p):
    items, producers, consumers = p["items"], p["producers"], p["consumers"]
    plan = Plan(total=producers + consumers)
    queue, size, peak, blocked = [], 0, 0, 0
    produce_free = [0.1] * producers
    consume_free = [0.1] * consumers
    for item in range(items):
        pi = item % producers
        put_at = produce_free[pi] + p["produce_ms"]
        if size >= p["maxsize"]:
            blocked += 1
            plan.event(put_at, "producer.blocked", task=pi, size=size)
            put_at = max(put_at, min(consume_free) + 0.1)
            size -= 1
        size += 1
        peak = max(peak, size)
        plan.event(put_at, "queue.put", task=pi, item=item, size=size)
        produce_free[pi] = put_at
        ci = consume_free.index(min(consume_free))
        got = max(consume_free[ci], put_at) + 0.05
        plan.event(got, "queue.get", task=producers + ci, item=item, size=max(size - 1, 0))
        size = max(size - 1, 0)
        consume_free[ci] = got + p["consume_ms"]
    for i in range(producers):
        plan.span(i, 0.1, produce_free[i] + 0.1, label=f"producer-{i}")
    for i in range(consumers):
        plan.span(producers + i, 0.1, max(consume_free) + 0.2, label=f"consumer-{i}")
    plan.result = {"items": items, "consumed": items, "peak_size": peak, "maxsize": p["maxsize"],
                   "producer_blocks": blocked}
    plan.check("size_never_above_maxsize", f"<= {p['maxsize']}", peak, peak <= p["maxsize"])
    plan.check("every_item_consumed_once", f"== {items}", items, True)
    plan.check("producers_blocked_when_full", "> 0 when full", blocked, True)
    return plan


def gather_errors(p):
    count = p["count"]
    plan = Plan(total=count)
    fails = sorted(set(i for i in (p.get("fail_indices") or []) if i < count))
    first = fails[0] if fails else None
    for i in range(count):
        end = p["delay_ms"] + 0.3 + i * 0.01
        if i in fails:
            plan.span(i, 0.1, end, "error", error="TaskError(%d)" % i)
        elif not p["return_exceptions"] and first is not None and i > first:
            plan.span(i, 0.1, p["delay_ms"] + 0.3 + first * 0.01 + 0.2, "cancelled")
        else:
            plan.span(i, 0.1, end)
    plan.result = {"results": count if p["return_exceptions"] else 0, "failures": len(fails),
                   "first_error": None if first is None else "TaskError(%d)" % first}
    if p["return_exceptions"]:
        plan.check("results_count", f"== {count}", count, True)
        plan.check("failures_in_place", str(fails), str(fails), True)
        plan.check("nothing_cancelled", "== 0", 0, True)
    else:
        plan.check("first_error_surfaces", "TaskError(%s)" % first, plan.result["first_error"], True)
    return plan


def event(p):
    plan = Plan(total=p["waiters"])
    set_at = p["set_after_ms"] + 0.1
    plan.event(set_at, "event.set", waiters=p["waiters"])
    for i in range(p["waiters"]):
        plan.span(i, 0.1 + i * 0.01, set_at + 0.2 + i * 0.01)
    plan.result = {"waiters": p["waiters"], "set_at_ms": set_at, "earliest_proceed_ms": round(set_at + 0.2, 1)}
    plan.check("no_waiter_before_set", f">= {set_at} ms", round(set_at + 0.2, 1), True)
    plan.check("all_waiters_proceeded", f"== {p['waiters']}", p["waiters"], True)
    return plan


def lock(p):
    n, hold = p["increments"], p["hold_ms"]
    plan = Plan(total=n)
    t = 0.1
    for i in range(n):
        if p["use_lock"]:
            plan.span(i, 0.1, t + hold + 0.1)
            plan.event(t, "lock.acquired", task=i)
            plan.event(t + hold + 0.05, "lock.released", task=i)
            t += hold + 0.1
        else:
            plan.span(i, 0.1, hold + 0.2 + i * 0.01)
    counter = n if p["use_lock"] else 1
    plan.result = {"counter": counter, "increments": n, "lost_updates": n - counter}
    if p["use_lock"]:
        plan.check("counter_equals_increments", f"== {n}", counter, True)
    else:
        plan.check("lost_updates_observed", "> 0", n - counter, n - counter > 0)
    return plan


def periodic(p):
    plan = Plan(total=1)
    ticks, t, drift = 0, p["interval_ms"], 0.0
    while t <= p["duration_ms"]:
        ticks += 1
        drift = round(0.05 * ticks, 2)
        plan.event(t + drift, "tick", task=0, n=ticks, drift_ms=drift)
        t += p["interval_ms"]
    plan.span(0, 0.1, p["duration_ms"] + 0.3, "cancelled", label="ticker")
    plan.result = {"ticks": ticks, "expected_ticks": p["duration_ms"] // p["interval_ms"], "max_drift_ms": drift}
    plan.check("ticks_near_expected", f"~ {p['duration_ms'] // p['interval_ms']}", ticks, True)
    plan.check("no_tick_after_cancel", "== 0", 0, True)
    return plan


def first_completed(p):
    if p.get("count"):
        delays = [100 + jitter(7, i, p["jitter_ms"]) for i in range(p["count"])]
    else:
        delays = p["delays_ms"]
    plan = Plan(total=len(delays))
    winner = min(range(len(delays)), key=lambda i: delays[i])
    won_at = delays[winner] + 0.2
    for i, d in enumerate(delays):
        if i == winner:
            plan.span(i, 0.1, won_at, label=f"racer-{i}")
        else:
            plan.span(i, 0.1, won_at + 0.3, "cancelled", label=f"racer-{i}")
    plan.event(won_at + 0.05, "race.won", task=winner, delay_ms=delays[winner])
    plan.result = {"winner": winner, "winner_delay_ms": delays[winner], "losers_cancelled": len(delays) - 1}
    plan.check("winner_has_least_delay", f"== {min(delays)} ms", delays[winner], True)
    plan.check("losers_cancelled", f"== {len(delays) - 1}", len(delays) - 1, True)
    return plan


def resource_scope(p):
    n = p["resources"]
    plan = Plan(total=n)
    body_end = n * 2 + p["use_ms"]
    for i in range(n):
        acquired = 0.1 + i * 2
        released = body_end + (n - 1 - i) * 2 + 0.5
        plan.event(acquired, "resource.acquired", task=i, resource=f"r{i}")
        plan.event(released, "resource.released", task=i, resource=f"r{i}")
        outcome = "error" if p["fail_in_body"] and i == n - 1 else "ok"
        plan.span(i, acquired, released + 0.1, outcome, label=f"scope-r{i}",
                  error="BodyFailure" if outcome == "error" else None)
    plan.result = {"acquired": n, "released": n, "order": "reverse", "body_failed": p["fail_in_body"]}
    plan.check("released_exactly_once", f"== {n}", n, True)
    plan.check("released_in_reverse_order", "true", True, True)
    return plan


def blocking_offload(p):
    n = p["tasks"]
    plan = Plan(total=n)
    inline = p["mode"] == "inline"
    for i in range(n):
        start = 0.1 + (i * p["block_ms"] if inline else 0)
        plan.span(i, start, start + p["block_ms"] + 0.2, label=f"blocking-{i}")
    total = (n if inline else 1) * p["block_ms"]
    gap = p["block_ms"] if inline else p["heartbeat_ms"] + 1.3
    t = 0.0
    while t < total:
        t += gap if inline else p["heartbeat_ms"]
        if inline or int(t / p["heartbeat_ms"]) % 5 == 0:
            plan.event(t, "heartbeat.gap", gap_ms=round(gap, 1))
    plan.result = {"mode": p["mode"], "heartbeat_ms": p["heartbeat_ms"], "max_gap_ms": round(gap, 1)}
    if inline:
        plan.check("starvation_measured", f"> {p['heartbeat_ms']} ms", round(gap, 1), True)
    else:
        plan.check("heartbeat_gap_near_interval", f"<= {p['heartbeat_ms'] * 3} ms", round(gap, 1), True)
    return plan


SIMULATIONS = {
    "gather": gather, "task-group": task_group, "timeout": timeout, "semaphore": semaphore,
    "producer-consumer": producer_consumer, "gather-errors": gather_errors, "event": event,
    "lock": lock, "periodic": periodic, "first-completed": first_completed,
    "resource-scope": resource_scope, "blocking-offload": blocking_offload,
}


def planned_ms(name, p):
    """The planned duration the real server bounds (section 5): refused past 300 s."""
    if name == "semaphore":
        return math.ceil(p["count"] / p["limit"]) * p["delay_ms"]
    if name == "lock":
        return p["increments"] * p["hold_ms"] if p["use_lock"] else p["hold_ms"]
    if name == "producer-consumer":
        return p["items"] * max(p["produce_ms"] / p["producers"], p["consume_ms"] / p["consumers"])
    if name == "blocking-offload":
        return p["tasks"] * p["block_ms"]
    if name == "resource-scope":
        return p["use_ms"]
    if name == "periodic":
        return p["duration_ms"]
    return 0


def cross_check(name, p):
    if name == "task-group" and p["fail_index"] >= p["count"]:
        return [{"field": "fail_index", "message": "must be less than count (%d)" % p["count"]}]
    return []
