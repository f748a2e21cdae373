"""The concurrency-lab command line: `patterns` and `run`, as a user types them."""

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

BINARY = os.environ.get("LAB_BINARY")
pytestmark = pytest.mark.skipif(not BINARY, reason="needs the real binary (Tests/e2e/run.sh sets LAB_BINARY)")


def lab(*args, timeout=120):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def catalog():
    return json.loads(lab("patterns", "--json").stdout)["patterns"]


def max_overlap(spans):
    edges = sorted([(s["start_ms"], 1) for s in spans] + [(s["end_ms"], -1) for s in spans],
                   key=lambda edge: (edge[0], edge[1]))
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_semaphore_run_passes_its_checks_and_never_shows_more_than_the_limit_at_once():
    out = lab("run", "semaphore", "--param", "count=20", "--param", "limit=3", "--param", "delay_ms=50")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["status"] == "succeeded"
    assert all(check["passed"] for check in run["checks"])
    spans = run["timeline"]["spans"]
    assert len(spans) == 20
    assert max_overlap(spans) <= 3


@pytest.mark.parametrize("name", [entry["name"] for entry in catalog()] if BINARY else [])
def test_every_pattern_with_its_defaults_exits_0_with_every_check_passing(name):
    out = lab("run", name, "--compact", "--no-progress")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    run = json.loads(out.stdout)
    assert run["checks_passed"] is True
    assert run["timeline"]["spans"], "a run with no timeline"


def test_catalog_lists_every_pattern():
    names = [entry["name"] for entry in catalog()]
    assert names == ["gather", "task-group", "timeout", "semaphore", "producer-consumer", "gather-errors",
                     "event", "lock", "periodic", "first-completed", "resource-scope", "blocking-offload",
                     "as-completed", "shield", "condition", "barrier", "wait", "pipeline",
                     "retry", "circuit-breaker", "rate-limiter", "hedging", "bulkhead", "deadline-propagation",
                     "debounce-throttle"]
    assert "semaphore" in lab("patterns").stdout


@pytest.mark.parametrize("args, field", [
    (["run", "semaphore", "--param", "count=0"], "count"),
    (["run", "first-completed", "--param", "delays_ms=1,x"], "delays_ms"),
    (["run", "gather", "--json", "{\"colour\": 1}"], "colour"),
])
def test_bad_parameters_exit_2_naming_the_field(args, field):
    out = lab(*args)
    assert out.returncode == 2
    assert field in out.stderr
    assert out.stdout == ""


def test_unknown_pattern_and_malformed_json_exit_2():
    assert lab("run", "nope").returncode == 2
    assert lab("run", "gather", "--json", "[1]").returncode == 2


def test_a_list_parameter_takes_comma_separated_values():
    out = lab("run", "first-completed", "--param", "delays_ms=300,100,200", "--compact")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["params"]["delays_ms"] == [300, 100, 200]
    assert all(check["passed"] for check in run["checks"])


def test_version_names_the_release_healthz_reports_and_says_when_the_build_is_debug(base_url):
    out = lab("--version")
    assert out.returncode == 0, out.stderr
    release, _, build = out.stdout.strip().partition(" ")
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=10) as response:
        assert release == json.load(response)["version"], out.stdout
    assert build in ("", "(debug build)"), out.stdout


def test_every_serve_flag_is_in_the_readme_table():
    help_text = lab("serve", "--help").stdout
    flags = set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help", "--version"}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Serve flags"):]
    table = section[:section.index("\n## ", 1)]
    assert len(flags) > 20, help_text
    assert sorted(flag for flag in flags if f"`{flag}`" not in table) == []
