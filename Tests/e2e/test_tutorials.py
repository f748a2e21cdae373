"""Every program of the two seed tutorials, reproduced by the matching pattern with the
program's own numbers, against the real server.

For each program, CPython runs it as it is (asyncio_reference: asyncio's own loop, with a
virtual clock) and reports what it printed and when, how long it took and its queue's peak
size; the lab runs the matching pattern over HTTP with the same numbers; the test compares
the two: the results and their order, the cancelled set, the counter, the ticks, the queue's
peak size, and the elapsed time, within 3 % of the program's ideal. 3 % of a program of 0 or
100 ms is less than one time slice of a shared machine's scheduler, so the tolerance is never
below 5 ms (measured on this 2-core machine under the other engineers' builds: 0.5-2 ms over
the ideal as a rule, 8 ms at worst, on a 3 s program).

A debug build (make test's: `--version` says "debug build") spends longer on a run's own
bookkeeping, unoptimised: a run's duration ends when its checks and timeline are made, and a
program of 0 ms took 2-4 ms, 100 and 300 ms ones up to 4.6 ms over, on this machine with one
core busy beside it. Against a debug build the floor is 10 ms; the percentage stays. The module
runs alone (conftest.py's SERIAL_MODULES): beside another test file on two workers, a fresh
clone's CI run saw 6-11 ms over on the 100 and 300 ms programs.

Every run is launched at the start of the module, the longest first, so that the short
ones (100 ms, where 3 % is 3 ms) do not run while the others are being launched; they mostly
sleep, the longest 12 s. Each test then waits for its own.
"""

import ast
import functools
import time

import pytest

from asyncio_reference import run as reference
from lab_server import binary_is_debug
from reliab import needs_binary
from tutorial_programs import PROGRAMS

pytestmark = needs_binary

# Program id -> the lab runs that reproduce it: (pattern, the program's own numbers).
RUNS = {
    "seed1-gather": [("gather", {"count": 3, "delay_ms": 100})],
    "seed1-taskgroup": [("task-group", {"count": 2, "delay_ms": 100, "fail_index": -1})],
    # Method 1 (wait_for) and method 2 (asyncio.timeout), one after the other.
    "seed1-timeout": [("timeout", {"operation_ms": 10000, "timeout_ms": 2000, "style": "wait_for"}),
                      ("timeout", {"operation_ms": 10000, "timeout_ms": 2000, "style": "deadline"})],
    "seed1-semaphore": [("semaphore", {"count": 10, "limit": 3, "delay_ms": 500})],
    "seed1-queue": [("producer-consumer", {"items": 3, "producers": 1, "consumers": 1, "maxsize": 5,
                                           "produce_ms": 0, "consume_ms": 100})],
    "seed1-gather-errors": [("gather-errors", {"count": 3, "delay_ms": 0, "fail_indices": [1],
                                               "return_exceptions": True})],
    "seed1-event": [("event", {"waiters": 2, "set_after_ms": 1000})],
    "seed1-lock": [("lock", {"increments": 100, "use_lock": True, "hold_ms": 10})],
    "seed1-periodic": [("periodic", {"interval_ms": 5000, "duration_ms": 12000, "work_ms": 0,
                                     "schedule": "fixed_delay"})],
    # asyncio.wait(FIRST_COMPLETED), then the pending cancelled: first-completed, and wait.
    "seed1-first-completed": [("first-completed", {"delays_ms": [1000, 500, 2000]}),
                              ("wait", {"delays_ms": [1000, 500, 2000], "return_when": "FIRST_COMPLETED",
                                        "cancel_pending": True})],
    "seed1-context-manager": [("resource-scope", {"resources": 1, "enter_ms": 100, "use_ms": 100, "exit_ms": 100})],
    "seed1-executor": [("blocking-offload", {"tasks": 1, "block_ms": 1000, "mode": "offload"})],
    "seed2-gather": [("gather", {"count": 3, "delay_ms": 1000})],
    "seed2-semaphore": [("semaphore", {"count": 5, "limit": 2, "delay_ms": 1000})],
    "seed2-queue": [("producer-consumer", {"items": 5, "producers": 1, "consumers": 1, "maxsize": 0,
                                           "produce_ms": 500, "consume_ms": 1000})],
    "seed2-wait-for": [("timeout", {"operation_ms": 5000, "timeout_ms": 2000, "style": "wait_for"})],
}


@pytest.fixture(scope="module")
def references():
    """What CPython's asyncio makes of each program."""
    return {program: reference(source, program) for program, source in PROGRAMS.items()}


@pytest.fixture(scope="module")
def launched(lab, references):
    longest_first = sorted(RUNS, key=lambda program: -references[program]["elapsed_ms"])
    return {program: [lab.post_json(f"/patterns/{pattern}/runs", params)["id"] for pattern, params in RUNS[program]]
            for program in longest_first}


def runs_of(lab, launched, program):
    """The program's lab runs, finished, each with every check passed."""
    finished = []
    for run_id in launched[program]:
        deadline = time.monotonic() + 60
        run = lab.get_json(f"/runs/{run_id}?wait=20", timeout=30)
        while run["status"] in ("queued", "running") and time.monotonic() < deadline:
            run = lab.get_json(f"/runs/{run_id}?wait=20", timeout=30)
        assert run["status"] == "succeeded", run
        assert run["checks_passed"] is True, [c for c in run["checks"] if not c["passed"]]
        finished.append(run)
    return finished


@functools.cache
def floor_ms():
    return 10.0 if binary_is_debug() else 5.0


def within_ideal(run, ideal_ms):
    tolerance = max(0.03 * ideal_ms, floor_ms())
    assert ideal_ms <= run["duration_ms"] <= ideal_ms + tolerance, (run["pattern"], run["duration_ms"], ideal_ms)


def printed(program):
    return [line for _, line in program["lines"]]


def times(program, prefix):
    return [at for at, line in program["lines"] if line.startswith(prefix)]


def outcomes(run):
    return {span["task"]: span["outcome"] for span in run["timeline"]["spans"]}


def starts(run):
    return sorted(span["start_ms"] for span in run["timeline"]["spans"])


def waves(start_times, gap_ms=100):
    """How many tasks start together, wave after wave (starts closer than gap_ms)."""
    sizes = []
    for index, at in enumerate(start_times):
        if index and at - start_times[index - 1] < gap_ms:
            sizes[-1] += 1
        else:
            sizes.append(1)
    return sizes


def test_seed1_gather_results_in_input_order_after_one_delay(lab, launched, references):
    program = references["seed1-gather"]
    [run] = runs_of(lab, launched, "seed1-gather")
    users = ast.literal_eval(printed(program)[0])
    assert [user["id"] for user in users] == [1, 2, 3]
    assert run["result"]["results_in_order"] == len(users)
    within_ideal(run, program["elapsed_ms"])


def test_seed1_taskgroup_both_children_complete(lab, launched, references):
    program = references["seed1-taskgroup"]
    [run] = runs_of(lab, launched, "seed1-taskgroup")
    assert printed(program) == ["HELLO WORLD"]
    assert run["result"]["completed"] == 2 and run["result"]["cancelled"] == 0 and run["result"]["errors"] == []
    assert set(outcomes(run).values()) == {"ok"}
    within_ideal(run, program["elapsed_ms"])


def test_seed1_timeout_both_methods_time_out_at_two_seconds(lab, launched, references):
    program = references["seed1-timeout"]
    wait_for, deadline = runs_of(lab, launched, "seed1-timeout")
    # Method 1 prints at 2 s; method 2 (uncaught) ends the program with TimeoutError at 4 s.
    assert program["lines"] == [(2000.0, "Operation timed out")]
    assert program["error"] == "TimeoutError" and program["elapsed_ms"] == 4000.0
    for run in (wait_for, deadline):
        assert run["result"]["timed_out"] is True and run["result"]["operation_saw_cancellation"] is True
        assert outcomes(run) == {0: "timeout"}
        within_ideal(run, program["lines"][0][0])


def test_seed1_semaphore_three_at_a_time_in_four_waves(lab, launched, references):
    program = references["seed1-semaphore"]
    [run] = runs_of(lab, launched, "seed1-semaphore")
    fetching = times(program, "Fetching")
    assert waves(starts(run)) == waves(fetching) == [3, 3, 3, 1]
    assert run["result"]["peak_in_flight"] == 3
    within_ideal(run, program["elapsed_ms"])


def test_seed1_queue_consumed_in_order_and_qsize_peaks_as_asyncio_counts(lab, launched, references):
    program = references["seed1-queue"]
    [run] = runs_of(lab, launched, "seed1-queue")
    assert ast.literal_eval(printed(program)[-1]) == ["APPLE", "BANANA", "CHERRY"]
    assert run["result"]["get_order"] == [0, 1, 2]
    assert run["result"]["peak_size"] == program["queue_peak"] == 3
    within_ideal(run, program["elapsed_ms"])


def test_seed1_gather_errors_failure_in_place_nothing_cancelled(lab, launched, references):
    program = references["seed1-gather-errors"]
    [run] = runs_of(lab, launched, "seed1-gather-errors")
    assert printed(program) == ["Success: 2", "Error: x cannot be 2", "Success: 6"]
    failed = [index for index, line in enumerate(printed(program)) if line.startswith("Error")]
    assert run["result"]["failed_tasks"] == failed == [1]
    assert run["result"]["results"] == 3 and run["result"]["cancelled"] == 0
    within_ideal(run, program["elapsed_ms"])


def test_seed1_event_both_waiters_proceed_at_the_set(lab, launched, references):
    program = references["seed1-event"]
    [run] = runs_of(lab, launched, "seed1-event")
    set_at = times(program, "Setting event")[0]
    assert times(program, "Task") == [0.0, 0.0, set_at, set_at]
    assert run["result"]["proceeded"] == 2 and run["result"]["waiting_at_set"] == 2
    assert set_at <= run["result"]["set_at_ms"] <= set_at + 0.03 * set_at
    within_ideal(run, program["elapsed_ms"])


def test_seed1_lock_counter_reaches_one_hundred(lab, launched, references):
    program = references["seed1-lock"]
    [run] = runs_of(lab, launched, "seed1-lock")
    assert run["result"]["counter"] == int(printed(program)[0]) == 100
    assert run["result"]["lost_updates"] == 0
    within_ideal(run, program["elapsed_ms"])


def test_seed1_periodic_ticks_three_times_before_the_cancel(lab, launched, references):
    program = references["seed1-periodic"]
    [run] = runs_of(lab, launched, "seed1-periodic")
    assert times(program, "Health check") == [0.0, 5000.0, 10000.0]
    assert run["result"]["ticks"] == len(times(program, "Health check")) == 3
    assert outcomes(run) == {0: "cancelled"}
    within_ideal(run, program["elapsed_ms"])


def test_seed1_first_completed_server2_wins_and_the_others_are_cancelled(lab, launched, references):
    program = references["seed1-first-completed"]
    first, wait = runs_of(lab, launched, "seed1-first-completed")
    assert program["lines"] == [(500.0, "First: Response from server2")]
    servers = ["server1", "server2", "server3"]
    assert servers[first["result"]["winner"]] == "server2"
    assert {task for task, outcome in outcomes(first).items() if outcome == "cancelled"} == {0, 2}
    assert wait["result"]["done"] == [1] and wait["result"]["pending"] == [0, 2]
    assert {task for task, outcome in outcomes(wait).items() if outcome == "cancelled"} == {0, 2}
    for run in (first, wait):
        within_ideal(run, program["elapsed_ms"])


def test_seed1_context_manager_connects_queries_and_disconnects_in_three_tenths(lab, launched, references):
    program = references["seed1-context-manager"]
    [run] = runs_of(lab, launched, "seed1-context-manager")
    assert program["lines"] == [(0.0, "Connecting..."), (200.0, "[{'id': 1}]"), (200.0, "Disconnecting...")]
    assert run["result"]["acquire_order"] == [0] and run["result"]["release_order"] == [0]
    assert run["result"]["shortest_exit_ms"] >= 100
    within_ideal(run, program["elapsed_ms"])


def test_seed1_executor_blocking_call_returns_after_a_second(lab, launched, references):
    program = references["seed1-executor"]
    [run] = runs_of(lab, launched, "seed1-executor")
    assert printed(program) == ["result"]
    assert run["result"]["calls_completed"] == 1
    within_ideal(run, 1000)  # time.sleep(1) in the program: the reference's figure is real time


def test_seed2_gather_three_results_after_one_second(lab, launched, references):
    program = references["seed2-gather"]
    [run] = runs_of(lab, launched, "seed2-gather")
    assert ast.literal_eval(printed(program)[0]) == ["Data 0", "Data 1", "Data 2"]
    assert run["result"]["results_in_order"] == 3
    within_ideal(run, program["elapsed_ms"])


def test_seed2_semaphore_two_at_a_time_in_three_waves(lab, launched, references):
    program = references["seed2-semaphore"]
    [run] = runs_of(lab, launched, "seed2-semaphore")
    assert waves(starts(run)) == waves(times(program, "Starting")) == [2, 2, 1]
    assert run["result"]["peak_in_flight"] == 2
    within_ideal(run, program["elapsed_ms"])


def test_seed2_queue_unbounded_consumed_in_order(lab, launched, references):
    program = references["seed2-queue"]
    [run] = runs_of(lab, launched, "seed2-queue")
    consumed = [line.split()[-1] for line in printed(program) if line.startswith("Consumed")]
    assert consumed == [f"item-{index}" for index in run["result"]["get_order"]]
    assert run["result"]["maxsize"] == 0 and run["result"]["producer_blocked"] == 0
    # At 1.5 s and 2.5 s a put and the consumer's next get fall due at the same instant; asyncio's
    # loop runs the consumer first (its timer was set first), so the queue peaks at 2. On a real
    # clock the two deadlines differ by microseconds of drift and either can come first, here as
    # in a real asyncio program: the peak is 2 or 3 (the manual-clock test pins 2).
    assert program["queue_peak"] == 2
    assert run["result"]["peak_size"] in (2, 3)
    within_ideal(run, program["elapsed_ms"])


def test_seed2_wait_for_times_out_at_two_seconds(lab, launched, references):
    program = references["seed2-wait-for"]
    [run] = runs_of(lab, launched, "seed2-wait-for")
    assert program["lines"] == [(2000.0, "Task timed out!")]
    assert run["result"]["timed_out"] is True
    within_ideal(run, program["elapsed_ms"])


def test_every_program_has_its_runs_and_its_test():
    tests = [name for name in globals() if name.startswith("test_seed")]
    assert set(RUNS) == set(PROGRAMS)
    assert len(tests) == len(PROGRAMS) == 16
