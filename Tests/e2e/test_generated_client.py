"""A Python client generated from openapi.yaml drives every operation of the real server.

What an integrator does: generate a client with openapi-python-client (pinned in
scripts/install-deps.sh) from openapi.yaml as it is, into a temporary folder, install it in the
test venv, and use it. The generator must take the spec without a warning (a schema it drops
is a model missing at run time), and then every operation is called through the client: the
catalog, a launch with `wait` of every pattern that must come back as that pattern's own run
and result types with every figure the spec says is required and none it does not know, get,
list across pages with filters, the event stream, cancel, the trace, and a 401, 404, 409 and
422 parsed as problem details. The last test checks that every operation in the spec was driven.

So the test fails whenever the spec and the server part ways: a figure the server stops
reporting leaves the result unparsed (the generated code falls back to a plain dict), one it
starts reporting lands in `additional_properties`, and a changed shape fails to parse.
"""

import importlib
import importlib.util
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reliab import needs_binary, start_lab, terminate
from spec import ROOT, SPEC, schema_errors

pytestmark = needs_binary

BIN = Path(sys.executable).parent
TOKEN = "generated-client-token"
OPERATIONS = {op["operationId"] for path in SPEC["paths"].values() for op in path.values()
              if isinstance(op, dict) and "operationId" in op}
# The operations each test drove: the last test compares them with the spec's.
DRIVEN = set()


def snake(operation_id):
    """The generator's module name for an operation id (`getOpenAPI` -> `get_open_api`)."""
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", operation_id)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words).lower()


def camel(name):
    return "".join(part.capitalize() for part in name.split("-"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client package, generated from openapi.yaml and installed in the test venv."""
    folder = tmp_path_factory.mktemp("generated-client")
    out = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--path", str(ROOT / "openapi.yaml"),
                          "--meta", "setup", "--output-path", str(folder / "client")],
                         capture_output=True, text=True, timeout=300,
                         env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(folder)})
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    # A warning means the generator dropped part of the spec: a model or a response missing.
    assert "Warning" not in report and "Unable to" not in report, report
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "--no-deps", "--no-build-isolation", "--force-reinstall", str(folder / "client")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    importlib.invalidate_caches()
    package = importlib.import_module("concurrency_lab_client")
    return package


@pytest.fixture(scope="module")
def lab():
    server = start_lab("generated-client", ["--api-token", TOKEN])
    yield server
    terminate(server)


class Api:
    """The generated package, with each call recorded under its operation id."""

    def __init__(self, package, base_url):
        self.package = package
        self.models = importlib.import_module("concurrency_lab_client.models")
        self.types = importlib.import_module("concurrency_lab_client.types")
        self.client = package.AuthenticatedClient(base_url=base_url, token=TOKEN, timeout=90)
        self.anonymous = package.Client(base_url=base_url, timeout=90)
        self.modules = {}
        for operation in OPERATIONS:
            module = next((importlib.import_module(f"concurrency_lab_client.api.{tag}.{snake(operation)}")
                           for tag in ("patterns", "runs", "system")
                           if importlib.util.find_spec(f"concurrency_lab_client.api.{tag}.{snake(operation)}")), None)
            assert module is not None, f"the generated client has no module for {operation}"
            self.modules[operation] = module

    def call(self, operation, client=None, **arguments):
        """`sync_detailed` of `operation`: the response with `.parsed`."""
        DRIVEN.add(operation)
        return self.modules[operation].sync_detailed(client=client or self.client, **arguments)

    def model(self, name):
        return getattr(self.models, name)

    def unset(self, value):
        return isinstance(value, self.types.Unset)


@pytest.fixture(scope="module")
def api(generated, lab):
    return Api(generated, lab.base_url)


@pytest.fixture(scope="module")
def catalog(api):
    response = api.call("listPatterns")
    assert response.status_code == 200
    patterns = response.parsed.patterns
    assert patterns and all(isinstance(entry, api.model("PatternEntry")) for entry in patterns)
    return [entry.name for entry in patterns]


def assert_typed_run(api, run, pattern, finished=True):
    """`run` parsed as the pattern's own run type, with its own params and (when finished) result
    types, every required figure present and no figure the spec does not name."""
    assert isinstance(run, api.model(f"{camel(pattern)}Run")), f"{pattern}: parsed as {type(run).__name__}"
    assert run.pattern == pattern
    assert isinstance(run.params, api.model(f"{camel(pattern)}Parameters")), type(run.params)
    if not finished:
        return
    result_type = api.model(f"{camel(pattern)}Result")
    assert isinstance(run.result, result_type), f"{pattern}: result not parsed as {result_type.__name__}: {run.result!r}"
    required = SPEC["components"]["schemas"][f"{camel(pattern)}Result"].get("required", [])
    assert required, f"{pattern}: the spec lists no required figure"
    missing = [figure for figure in required if api.unset(getattr(run.result, figure))]
    assert not missing, f"{pattern}: figures missing: {missing}"
    assert not run.result.additional_properties, (
        f"{pattern}: figures the spec does not know: {sorted(run.result.additional_properties)}")
    assert isinstance(run.timeline, api.model("Timeline"))
    assert run.checks and all(isinstance(check, api.model("Check")) for check in run.checks)


def test_the_catalog_through_the_client(api, catalog):
    for name in catalog:
        response = api.call("getPattern", name=name)
        assert response.status_code == 200
        assert isinstance(response.parsed, api.model("PatternEntry"))
        assert response.parsed.name == name and response.parsed.parameters
    assert set(catalog) == set(SPEC["components"]["schemas"]["Run"]["discriminator"]["mapping"])


def test_every_pattern_launched_with_wait_comes_back_as_its_own_types(api, catalog):
    def launch(name):
        body = api.model(f"{camel(name)}Parameters")()
        return name, api.call("launchRun", name=name, body=body, wait=30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        launched = list(pool.map(launch, catalog))
    for name, response in launched:
        assert response.status_code == 200, (name, response.status_code, response.content[:300])
        assert response.headers["Location"] == f"/runs/{response.parsed.id}"
        assert_typed_run(api, response.parsed, name)
        assert response.parsed.status.value == "succeeded", (name, response.parsed.error)
        # The raw answer against the contract itself, beyond what the generated code checks.
        assert not schema_errors("Run", json.loads(response.content)), (name, schema_errors("Run", json.loads(response.content)))
        again = api.call("getRun", id=response.parsed.id)
        assert again.status_code == 200
        assert_typed_run(api, again.parsed, name)
        assert again.parsed.result.to_dict() == response.parsed.result.to_dict()


def test_the_check_fails_when_the_server_drops_a_figure_or_adds_one(api):
    """The assertions above can fail: a run missing a required figure, or reporting one the spec
    does not name, is caught (the generated code alone would return it quietly)."""
    run = api.call("launchRun", name="gather", body=api.model("GatherParameters")(count=2, delay_ms=1), wait=30)
    document = json.loads(run.content)
    dropped = json.loads(json.dumps(document))
    dropped["result"].pop(SPEC["components"]["schemas"]["GatherResult"]["required"][0])
    with pytest.raises(AssertionError, match="result not parsed"):
        assert_typed_run(api, api.model("GatherRun").from_dict(dropped), "gather")
    added = json.loads(json.dumps(document))
    added["result"]["a_figure_nobody_documented"] = 1
    with pytest.raises(AssertionError, match="figures the spec does not know"):
        assert_typed_run(api, api.model("GatherRun").from_dict(added), "gather")
    assert_typed_run(api, api.model("GatherRun").from_dict(document), "gather")


def test_listing_pages_through_a_filtered_list_with_the_cursor_alone(api):
    params = api.model("SemaphoreParameters")
    ids = [api.call("launchRun", name="semaphore", body=params(count=1, limit=1, delay_ms=0), wait=30).parsed.id
           for _ in range(3)]
    api.call("launchRun", name="gather", body=api.model("GatherParameters")(count=1, delay_ms=0), wait=30)
    status = api.model("RunStatus")("succeeded")
    page = api.call("listRuns", pattern="semaphore", status=status, limit=1)
    assert page.status_code == 200
    seen = [summary for summary in page.parsed.runs]
    cursor = page.parsed.next_cursor
    while cursor:
        page = api.call("listRuns", limit=2, cursor=cursor)
        assert page.status_code == 200
        seen += page.parsed.runs
        cursor = page.parsed.next_cursor
    assert all(isinstance(summary, api.model("RunSummary")) for summary in seen)
    assert {summary.pattern for summary in seen} == {"semaphore"}
    assert {summary.status.value for summary in seen} == {"succeeded"}
    listed = [summary.id for summary in seen]
    assert listed == sorted(listed, reverse=True) and set(ids) <= set(listed)
    first = api.call("listRuns", pattern="semaphore", limit=1).parsed.next_cursor
    refused = api.call("listRuns", pattern="gather", cursor=first)
    assert refused.status_code == 400
    assert isinstance(refused.parsed, api.model("Problem"))
    assert [issue.field for issue in refused.parsed.errors] == ["pattern"]


def test_the_event_stream_through_the_client(api):
    run = api.call("launchRun", name="gather", body=api.model("GatherParameters")(count=3, delay_ms=5), wait=30).parsed
    response = api.call("streamRunEvents", id=run.id)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    blocks = [block for block in response.parsed.split("\n\n") if block.strip()]
    events = [dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")) for block in blocks]
    assert [int(event["id"]) for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["event"] == "run.finished"
    assert all(isinstance(json.loads(event["data"]), dict) for event in events)
    finished = api.model("GatherRun").from_dict(json.loads(events[-1]["data"]))
    assert_typed_run(api, finished, "gather")
    done = api.call("streamRunEvents", id=run.id, last_event_id=len(events))
    assert done.status_code == 204


def test_cancel_then_409_parsed_as_a_problem(api):
    launched = api.call("launchRun", name="gather", body=api.model("GatherParameters")(count=2, delay_ms=60_000))
    assert launched.status_code == 201
    assert_typed_run(api, launched.parsed, "gather", finished=False)
    cancelled = api.call("cancelRun", id=launched.parsed.id)
    assert cancelled.status_code == 202
    assert isinstance(cancelled.parsed, api.model("GatherRun"))
    ended = api.call("getRun", id=launched.parsed.id, wait=10).parsed
    assert ended.status.value == "cancelled"
    again = api.call("cancelRun", id=launched.parsed.id)
    assert again.status_code == 409
    assert isinstance(again.parsed, api.model("Problem"))
    assert again.parsed.type_ == "urn:concurrency-lab:problem:run-already-ended"
    assert again.parsed.run.id == launched.parsed.id


def test_404_422_and_401_parsed_as_problems(api):
    problem = api.model("Problem")
    missing = api.call("getRun", id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.status_code == 404 and isinstance(missing.parsed, problem)
    unknown = api.call("launchRun", name="no-such-pattern", body=api.model("GatherParameters")())
    assert unknown.status_code == 404 and isinstance(unknown.parsed, problem)
    invalid = api.call("launchRun", name="gather", body=api.model("GatherParameters")(count=0))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, problem)
    assert [issue.field for issue in invalid.parsed.errors] == ["count"]
    anonymous = api.call("launchRun", client=api.anonymous, name="gather", body=api.model("GatherParameters")())
    assert anonymous.status_code == 401 and isinstance(anonymous.parsed, problem)
    assert api.call("getPattern", name="no-such-pattern").status_code == 404


def test_system_operations_through_the_client(api):
    health = api.call("getHealth")
    assert health.status_code == 200 and isinstance(health.parsed, api.model("Health"))
    assert health.parsed.status == "ok"
    spec = api.call("getOpenAPI")
    assert spec.status_code == 200 and spec.parsed == (ROOT / "openapi.yaml").read_text()
    metrics = api.call("getMetrics")
    assert metrics.status_code == 200 and "# TYPE lab_http_requests_total counter" in metrics.parsed
    page = api.call("getPage")
    assert page.status_code == 200 and "<html" in page.parsed.lower()


def test_the_trace_through_the_client(api):
    launched = api.call("launchRun", name="semaphore",
                        body=api.model("SemaphoreParameters")(count=4, limit=2, delay_ms=60_000))
    assert launched.status_code == 201
    early = api.call("getRunTrace", id=launched.parsed.id)
    assert early.status_code == 409 and isinstance(early.parsed, api.model("Problem"))
    assert api.call("cancelRun", id=launched.parsed.id).status_code == 202
    api.call("getRun", id=launched.parsed.id, wait=10)
    trace = api.call("getRunTrace", id=launched.parsed.id)
    assert trace.status_code == 200 and isinstance(trace.parsed, api.model("Trace"))
    assert trace.parsed.other_data.run_id == launched.parsed.id
    assert trace.parsed.display_time_unit == "ms"
    # A span is a task's time holding its permit: the two that took one before the cancel have
    # one each, the two still waiting have none.
    spans = [event for event in trace.parsed.trace_events if event.ph.value == "X"]
    assert len(spans) == 2
    missing = api.call("getRunTrace", id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.status_code == 404 and isinstance(missing.parsed, api.model("Problem"))


def test_every_operation_in_the_spec_was_driven():
    print(f"\ngenerated client drove {len(DRIVEN)} of {len(OPERATIONS)} operations: {sorted(DRIVEN)}")
    assert DRIVEN == OPERATIONS
