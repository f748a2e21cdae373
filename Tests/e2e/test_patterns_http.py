"""Every pattern in the catalog, launched over HTTP with its defaults, passes its checks.

The list of patterns is the real binary's catalog (as in test_cli.py), so a pattern added
to the catalog is covered here without touching this file.
"""

import json
import os
import subprocess
import urllib.request

import pytest

BINARY = os.environ.get("LAB_BINARY")
pytestmark = pytest.mark.skipif(not BINARY, reason="needs the real binary (Tests/e2e/run.sh sets LAB_BINARY)")


def catalog_names():
    out = subprocess.run([BINARY, "patterns", "--json"], capture_output=True, text=True, timeout=60)
    return [entry["name"] for entry in json.loads(out.stdout)["patterns"]]


@pytest.mark.parametrize("name", catalog_names() if BINARY else [])
def test_every_pattern_with_its_defaults_passes_every_check_over_http(lab, name):
    run = lab.post_json(f"/patterns/{name}/runs?wait=30", {})
    assert run["status"] == "succeeded", run.get("error")
    failed = [check for check in run["checks"] if not check["passed"]]
    assert run["checks_passed"] is True, failed
    assert run["checks"], "a run that checked nothing"
    assert run["timeline"]["spans"], "a run with no timeline"


def stream_of(lab, run_id):
    """The finished run's event stream, read to its end: [(name, data)]."""
    request = urllib.request.Request(f"{lab.base_url}/runs/{run_id}/events", headers={"Accept": "text/event-stream"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    events, name = [], None
    for line in body.splitlines():
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[len("data:"):])))
    return events


@pytest.mark.parametrize("name", catalog_names() if BINARY else [])
def test_every_declared_counter_is_carried_by_events_and_ends_at_its_figure(lab, name):
    counters = [counter["name"] for counter in lab.get_json(f"/patterns/{name}")["counters"]]
    run = lab.post_json(f"/patterns/{name}/runs?wait=30", {})
    events = stream_of(lab, run["id"])
    assert events[-1][0] == "run.finished"
    for counter in counters:
        values = [data[counter] for event, data in events if event != "run.finished" and counter in data]
        assert values, f"no event carries {counter}"
        if counter in run["result"]:
            assert values[-1] == run["result"][counter], counter
