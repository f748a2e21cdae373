"""Every pattern of the catalog, with its defaults, over HTTP: the run succeeds, every check
passes, and its timeline and declared counters are there. (test_cli.py does the same through
`concurrency-lab run`.)"""

import json
import os
import subprocess

import pytest

BINARY = os.environ.get("LAB_BINARY")
pytestmark = pytest.mark.skipif(not BINARY, reason="needs the real binary (Tests/e2e/run.sh sets LAB_BINARY)")


def catalog():
    out = subprocess.run([BINARY, "patterns", "--json"], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["patterns"]


@pytest.mark.parametrize("entry", catalog() if BINARY else [], ids=lambda entry: entry["name"])
def test_every_pattern_with_its_defaults_passes_every_check_over_http(lab, entry):
    run = lab.post_json(f"/patterns/{entry['name']}/runs?wait=30", {})
    assert run["status"] == "succeeded", run
    assert run["checks_passed"] is True, [check for check in run["checks"] if not check["passed"]]
    assert run["timeline"]["spans"], "a run with no timeline"
    assert set(run["params"]) == {spec["name"] for spec in entry["parameters"] if spec["default"] is not None}
