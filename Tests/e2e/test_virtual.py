"""`clock: virtual` end to end: the same run in two processes, the issue's semaphore over
HTTP, the limits the server runs them under, and the page marking a virtual run."""

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from page import css, launch, open_pattern, raw_run, tid, wait_until_finished, bars, severe_console_entries
from reliab import BINARY, needs_binary, start_lab, terminate

pytestmark = needs_binary

# The patterns that refuse `clock: virtual` (422 naming `clock`, said in their catalog entry):
# blocking-offload blocks real threads. (debounce-throttle takes it: debounce's own Task joins the run.)
REFUSE_VIRTUAL = {"blocking-offload": "block real threads"}

# What says which run it was or when, in the wall clock's time; everything else must match.
WALL_CLOCK_MEMBERS = {"id", "created_at", "started_at", "finished_at", "real_ms", "links"}


def lab(*args, timeout=120):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def comparable(run):
    return {key: value for key, value in run.items() if key not in WALL_CLOCK_MEMBERS}


def catalog_names():
    return [entry["name"] for entry in json.loads(lab("patterns", "--json").stdout)["patterns"]] if BINARY else []


@pytest.mark.parametrize("name", catalog_names())
def test_two_processes_give_the_same_virtual_run(name):
    """Separate processes (each with its own hashing seed and thread timing): the same run,
    but for the id and the wall-clock timestamps."""
    first = lab("run", name, "--clock", "virtual", "--compact", "--no-progress")
    if name in REFUSE_VIRTUAL:
        assert first.returncode == 2 and "clock" in first.stderr and "virtual clock" in first.stderr
        return
    second = lab("run", name, "--clock", "virtual", "--compact", "--no-progress")
    assert first.returncode == second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["params"]["clock"] == "virtual"
    assert a["id"] != b["id"]
    assert comparable(a) == comparable(b)
    assert json.dumps(comparable(a), sort_keys=True) == json.dumps(comparable(b), sort_keys=True)


@pytest.fixture(scope="module")
def server():
    server = start_lab("virtual", ["--max-count", "100000"])
    yield server
    terminate(server)


def test_ten_thousand_tasks_holding_a_permit_ten_seconds_each_take_no_time(server):
    run = server.post_json("/patterns/semaphore/runs?wait=30",
                           {"count": 10000, "limit": 100, "delay_ms": 10000, "clock": "virtual"})
    assert run["status"] == "succeeded"
    assert run["checks_passed"] is True
    assert run["result"]["wall_ratio"] == 1.0
    assert run["result"]["wall_ms"] == 1_000_000
    assert run["duration_ms"] == 1_000_000
    # 17 minutes of simulated time in a small part of it: a real clock could not end these
    # holds in less than 1,000,000 ms. How fast is the bench's (virtual-semaphore row, in
    # simulated seconds per real second), not a timed test's.
    assert run["real_ms"] < run["duration_ms"] / 100, run["real_ms"]


@pytest.mark.parametrize("name", sorted(REFUSE_VIRTUAL))
def test_a_pattern_that_cannot_run_virtual_refuses_it_with_422_naming_clock(server, name):
    request = urllib.request.Request(server.base_url + f"/patterns/{name}/runs",
                                     data=b'{"clock": "virtual"}', headers={"Content-Type": "application/json"},
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    problem = json.load(refused.value)
    assert [error["field"] for error in problem["errors"]] == ["clock"]
    assert REFUSE_VIRTUAL[name] in problem["errors"][0]["message"]
    entry = server.get_json(f"/patterns/{name}")
    clock = next(spec for spec in entry["parameters"] if spec["name"] == "clock")
    assert "refuses virtual" in clock["description"]


def test_max_virtual_seconds_bounds_a_virtual_plan_and_max_run_seconds_does_not():
    small = start_lab("virtual-limits", ["--max-virtual-seconds", "100", "--max-run-seconds", "1"])
    try:
        fits = small.post_json("/patterns/semaphore/runs?wait=10",
                               {"count": 40, "limit": 4, "delay_ms": 9000, "clock": "virtual"})
        assert fits["status"] == "succeeded" and fits["duration_ms"] == 90_000
        request = urllib.request.Request(
            small.base_url + "/patterns/semaphore/runs",
            data=json.dumps({"count": 50, "limit": 4, "delay_ms": 9000, "clock": "virtual"}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 422
        assert "virtual time limit of 100 s" in json.load(refused.value)["errors"][0]["message"]
    finally:
        terminate(small)


def test_the_page_draws_a_virtual_run_and_marks_it_virtual(driver, base_url):
    open_pattern(driver, base_url, "semaphore")
    launch(driver, {"count": 12, "limit": 3, "delay_ms": 5000, "clock": "virtual"})
    assert wait_until_finished(driver) == "succeeded"
    panel = css(driver, tid("run-panel"))
    assert panel.get_attribute("data-clock") == "virtual"
    badge = css(driver, tid("run-clock"))
    assert badge.is_displayed() and badge.text == "virtual time"
    assert "of virtual time" in css(driver, tid("run-duration")).text
    assert "20,000 ms" in css(driver, tid("run-duration")).text
    assert len(bars(driver)) == 12
    document = raw_run(driver)
    assert document["params"]["clock"] == "virtual" and document["duration_ms"] == 20_000
    # A real run of the same pattern is not marked.
    launch(driver, {"count": 2, "limit": 2, "delay_ms": 10, "clock": "real"})
    assert wait_until_finished(driver) == "succeeded"
    assert css(driver, tid("run-panel")).get_attribute("data-clock") == "real"
    assert not css(driver, tid("run-clock")).is_displayed()
    assert severe_console_entries(driver) == []
