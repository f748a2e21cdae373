"""/metrics as Prometheus' own tools read it: prometheus_client's parser and `promtool check metrics`.

promtool comes from Debian's `prometheus` package: scripts/install-deps.sh takes the binary
out of the package (`apt-get download`, 19 MB, no service and none of its 12 dependencies) into
.venv/bin. Both tools also read a scrape in the old style (counters typed gauge, no HELP) and
must refuse it, so the checks are shown able to fail.
"""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reliab import needs_binary, start_lab, terminate

pytestmark = needs_binary

PROMTOOL = Path(sys.executable).parent / "promtool"
COUNTERS = {"lab_http_requests", "lab_http_request_timeouts", "lab_admission_rejections", "lab_runs_started",
            "lab_runs_ended"}
OLD_STYLE = '# TYPE lab_runs_started_total gauge\nlab_runs_started_total{pattern="gather"} 2.0\n'


@pytest.fixture(scope="module")
def scrape():
    lab = start_lab("metrics-conventions", ["--max-concurrent-runs", "1"])
    try:
        with httpx.Client(base_url=lab.base_url, timeout=60) as client:
            client.post("/patterns/gather/runs?wait=10", json={"count": 2, "delay_ms": 1})
            long = client.post("/patterns/gather/runs", json={"count": 1, "delay_ms": 60000}).json()
            assert client.post("/patterns/gather/runs", json={}).status_code == 429
            client.delete(f"/runs/{long['id']}")
            client.get(f"/runs/{long['id']}?wait=10")
            with client.stream("GET", f"/runs/{long['id']}/events") as stream:
                stream.read()
            client.get("/runs/nope")
            return client.get("/metrics").text
    finally:
        terminate(lab)


def test_prometheus_client_parses_every_family_with_help_and_its_type(scrape):
    families = {family.name: family for family in text_string_to_metric_families(scrape)}
    assert COUNTERS <= set(families), sorted(families)
    for name, family in families.items():
        assert family.documentation, f"{name} has no HELP"
        expected = "counter" if name in COUNTERS else ("histogram" if name.endswith("_seconds") else "gauge")
        assert family.type == expected, f"{name}: {family.type}"
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name in (f"{name}_total", f"{name}_created"), sample.name
    events = [sample for sample in families["lab_http_request_duration_seconds"].samples
              if sample.labels.get("route") == "/runs/{id}/events" and sample.name.endswith("_count")]
    assert events and events[0].value >= 1, "the finished stream's duration was recorded"


def test_prometheus_client_reads_the_old_style_as_gauges():
    family = next(text_string_to_metric_families(OLD_STYLE))
    assert family.type == "gauge" and not family.documentation


def test_promtool_check_metrics_passes(scrape):
    assert PROMTOOL.exists(), "promtool missing: scripts/install-deps.sh test puts it in .venv/bin"
    result = subprocess.run([str(PROMTOOL), "check", "metrics"], input=scrape, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    old = subprocess.run([str(PROMTOOL), "check", "metrics"], input=OLD_STYLE, capture_output=True, text=True,
                         timeout=60)
    assert old.returncode != 0 and "no help text" in old.stdout + old.stderr
