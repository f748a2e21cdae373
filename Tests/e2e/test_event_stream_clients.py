"""Event streams as SSE clients nobody here wrote see them: Chromium's EventSource and httpx-sse.

- Chromium: an EventSource on a run that ends reconnects at most once after `run.finished`.
  The HTML standard's way to stop one is `204 No Content`, which the server answers to a
  finished run's stream asked from its last event. The count is the server's own (its access
  log), not what the page believes. Before the 204 (main's 59cb329), Chromium reconnected every
  `retry` (2 s), each time answered 200 with an empty stream, for as long as the page stayed.
- httpx-sse: every event's data of a whole stream parses as JSON. `retry:` travels in the first
  event's block: in a block of its own, SSE libraries surface it as an event with empty data.
  Each event is also held to the spec's event catalogue (the stream's schema is a string, so
  this is where events are checked): an id, a name the catalogue lists, an object with `t_ms`,
  and a `run.finished` whose data is a `Run`.
"""

import json
import re
import time

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse
from httpx_sse._decoders import SSEDecoder

from other_origin import OtherOrigin, settled_requests
from reliab import needs_binary, start_lab, terminate
from spec import SPEC, schema_errors

pytestmark = needs_binary

# How long the page stays after `run.finished`: three retry intervals (2 s each).
WATCH_SECONDS = 6

OPEN_EVENT_SOURCE = """
const [url, done] = [arguments[0], arguments[arguments.length - 1]];
const probe = {errors: 0, finished: false, lastId: null};
const source = new EventSource(url);
source.onerror = () => { probe.errors += 1; };
source.addEventListener('run.finished', (event) => { probe.finished = true; probe.lastId = event.lastEventId; });
window.probe = probe;
window.probeSource = source;
done(true);
"""


@pytest.fixture(scope="module")
def lab():
    server = start_lab("event-stream-clients")
    yield server
    terminate(server)


def launch(lab, params, wait=None):
    query = f"?wait={wait}" if wait else ""
    response = httpx.post(f"{lab.base_url}/patterns/gather/runs{query}", json=params, timeout=60)
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def reconnects_after_the_end(lab, driver):
    """Requests Chromium made for a run's stream after the one that carried `run.finished`,
    within WATCH_SECONDS of it, counted in the server's access log; and the page's probe."""
    run_id = launch(lab, {"count": 3, "delay_ms": 300})
    path = f"/runs/{run_id}/events"
    with OtherOrigin() as origin:
        driver.get(origin.url)
        driver.execute_async_script(OPEN_EVENT_SOURCE, lab.base_url + path)
        deadline = time.monotonic() + 30
        while not driver.execute_script("return window.probe.finished") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver.execute_script("return window.probe.finished"), "no run.finished reached the page"
        time.sleep(WATCH_SECONDS)
        probe = driver.execute_script("return {...window.probe, state: window.probeSource.readyState}")
        driver.execute_script("window.probeSource.close()")
    statuses = settled_requests(lab, "GET", path, at_least=1)
    return statuses[1:], statuses, probe


def test_chromium_event_source_reconnects_at_most_once_after_the_run_ended(lab, driver):
    after, statuses, probe = reconnects_after_the_end(lab, driver)
    print(f"\nChromium: {len(after)} reconnect(s) within {WATCH_SECONDS} s after run.finished; "
          f"statuses {statuses}; page: {probe}")
    assert statuses[0] == 200
    assert len(after) <= 1, f"reconnected {len(after)} times after run.finished: {statuses}"
    assert after == [204], statuses
    assert probe["state"] == 2, "the EventSource should be CLOSED after the 204"


def test_httpx_sse_every_events_data_of_a_whole_stream_is_json(lab):
    run_id = launch(lab, {"count": 20, "delay_ms": 5, "jitter_ms": 20})
    with httpx.Client(base_url=lab.base_url, timeout=60) as client:
        live = read_all(client, "GET", f"/runs/{run_id}/events")
        replay = read_all(client, "GET", f"/runs/{run_id}/events")
        resumed = read_all(client, "GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": "5"})
        with connect_sse(client, "POST", "/patterns/gather/runs", json={"count": 4, "delay_ms": 5}) as source:
            assert source.response.status_code == 201
            launched = list(source.iter_sse())
        done = client.get(f"/runs/{run_id}/events", headers={"Last-Event-ID": str(len(replay))})
    for events in (live, replay, launched):
        assert [int(event.id) for event in events] == list(range(1, len(events) + 1))
        assert events[-1].event == "run.finished"
    assert [event.id for event in resumed] == [event.id for event in replay[5:]]
    names = catalogued_event_names()
    for events in (live, replay, resumed, launched):
        assert events[0].retry == 2000, "retry travels in the first event's block"
        for event in events:
            data = json.loads(event.data)
            assert isinstance(data, dict), f"{event.event} {event.id}: {event.data!r}"
            assert event.event in names, f"{event.event} is not in the spec's event catalogue"
            assert isinstance(data.get("t_ms"), (int, float)) or event.event == "run.finished", data
        assert not schema_errors("Run", json.loads(events[-1].data))
    assert done.status_code == 204


def catalogued_event_names():
    """Every event name the spec's stream description lists: the common ones, then each
    pattern's own, one line per pattern ("- `name`: `event`, ...")."""
    description = SPEC["components"]["schemas"]["EventStream"]["description"]
    common, _, per_pattern = description.partition("Each pattern's own events")
    names = set(re.findall(r"`([a-z]+\.[a-z_.]+|progress)`", common))
    for line in per_pattern.splitlines():
        if match := re.match(r"- `[a-z-]+`: (.*)", line.strip()):
            names |= set(re.findall(r"`([^`]+)`", match.group(1)))
    return names


def test_the_spec_catalogues_every_event_of_every_pattern(lab):
    names = catalogued_event_names()
    assert {"run.started", "run.finished", "task.started", "task.timeout", "progress", "server.shutdown"} <= names
    for entry in httpx.get(f"{lab.base_url}/patterns", timeout=30).json()["patterns"]:
        assert set(entry["events"]) <= names, (entry["name"], set(entry["events"]) - names)


def read_all(client, method, path, **arguments):
    with connect_sse(client, method, path, **arguments) as source:
        assert source.response.status_code == 200
        return list(source.iter_sse())


def test_httpx_sse_sees_a_retry_block_of_its_own_as_an_event_with_empty_data():
    """Why `retry:` rides in the first event's block: the old framing, decoded by httpx-sse,
    yields an event whose data is no JSON (the check above would fail on it)."""
    old_framing = ["retry: 2000", "", "id: 1", "event: run.started", 'data: {"t_ms":0}', ""]
    decoder = SSEDecoder()
    events = [event for line in old_framing if (event := decoder.decode(line)) is not None]
    assert isinstance(events[0], ServerSentEvent) and events[0].data == "" and events[0].retry == 2000
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[0].data)
