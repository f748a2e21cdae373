"""The running server against openapi.yaml, with schemathesis (property-based, every operation).

Every operation in the spec is selected (nothing is excluded): the catalog, runs, the event
stream, metrics, the spec itself and the page. The number of examples is bounded
(--max-examples) and the seed fixed, so a run takes seconds and is reproducible; a failure
prints schemathesis's report with a curl line per case.

One schemathesis run with every check but the few CONFIG names (and why), read at two levels:
- every operation is tested and none ever answers a 5xx (ST101/ST102, `not_a_server_error`),
  whatever schemathesis sends: enforced.
- every check: responses match their schemas, schema-valid requests are accepted, invalid
  ones refused, headers and statuses as declared. This finds real mismatches between the
  spec and the server.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from reliab import OUTPUT, needs_binary, start_lab, terminate

pytestmark = needs_binary

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


# Every check, but:
# - use_after_free: DELETE /runs/{id} cancels a run; the run stays in the history (documented),
#   so "a deleted resource is gone" does not apply to it.
# - positive_data_acceptance: which launch body is valid depends on the pattern the path names
#   and on cross-field rules (fail_index < count, planned duration) that a schema cannot state:
#   the server answers 422 naming each field, which the bad input corpus checks case by case.
# - the response schema of streamRunEvents: the event stream's schema is the whole body as a
#   string (what generators need; OpenAPI 3.1 has no per-event schema, and 3.2's `itemSchema`
#   is not valid in 3.1), while schemathesis reads a 3.1 `text/event-stream` schema as one
#   event's. test_event_stream_clients.py checks every event of whole streams instead.
CONFIG = """
[checks]
enabled = true
use_after_free.enabled = false
positive_data_acceptance.enabled = false

[[operations]]
include-operation-id = "streamRunEvents"
checks.response_schema_conformance.enabled = false
"""


@pytest.fixture(scope="module")
def lab():
    # A request timeout of 6 s caps every ?wait= at 5 s (the server answers 202 then, as
    # the spec says), so schema-valid long waits stay under schemathesis's response-time limit.
    server = start_lab("openapi-conformance", ["--request-timeout", "6"])
    yield server
    terminate(server)


@pytest.fixture(scope="module")
def report(lab, tmp_path_factory):
    """One schemathesis run with every check; both tests read it. Long `?wait=` values and
    delays are in the spec's bounds, so a run takes ~30-60 s with 10 examples per operation."""
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed (scripts/install-deps.sh test)")
    # In a fresh folder: schemathesis keeps a cache of past failures under its working
    # directory and replays them first, which would make one run depend on the last.
    workdir = tmp_path_factory.mktemp("schemathesis")
    # The checks live in the config file, not on the command line: there a check is enabled
    # for every operation, whatever an operation's own section says.
    (workdir / "schemathesis.toml").write_text(CONFIG)
    command = [str(SCHEMATHESIS), "--config-file", str(workdir / "schemathesis.toml"), "run",
               str(ROOT / "openapi.yaml"), "--url", lab.base_url, "--max-examples", "10", "--seed", "20261121",
               "--workers", "1", "--request-timeout", "70", "--no-color"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=workdir)
    text = result.stdout + result.stderr
    (OUTPUT / "schemathesis.txt").write_text(text)
    print(text[-2500:])
    return result.returncode, text


def operations_in_the_spec():
    import yaml
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(1 for item in spec["paths"].values() for method in item if method in methods)


def test_every_operation_is_tested(report):
    _, text = report
    count = operations_in_the_spec()
    assert f"Selected: {count}/{count}" in text and f"Tested: {count}" in text, text[-3000:]


def test_no_operation_answers_a_server_error(report):
    _, text = report
    server_errors = re.findall(r"- (ST10[0-9] Server error[^\n]*)", text)
    assert not server_errors, text[-12000:]


def test_every_check_passes_on_every_operation(report):
    status, text = report
    assert status == 0, text[-12000:]
