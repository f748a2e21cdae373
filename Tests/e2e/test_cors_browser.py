"""CORS in Chromium: a page served on another origin (a second port) uses the API.

With the default `--cors-origins *`, the page launches a run with a JSON body (a preflighted
POST), reads `Location` (exposed), streams the run with an EventSource, and cancels it (a
preflighted DELETE); the server's access log shows the preflights it answered. With
`--api-token`, the page sends the token in `Authorization` and `*` still serves it, while a
credentialed request (`credentials: 'include'`) is refused by the browser: the server never
grants credentials. A list grants only its origins; `none` grants nothing.
"""

import pytest

from other_origin import OtherOrigin, settled_requests
from reliab import needs_binary, start_lab, terminate

pytestmark = needs_binary

TOKEN = "cors-token"

# Launch (JSON body), stream until the first task starts, cancel, and stream until the end.
LAUNCH_STREAM_CANCEL = """
const [base, token, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const auth = token ? {Authorization: 'Bearer ' + token} : {};
(async () => {
  const launched = await fetch(base + '/patterns/gather/runs', {
    method: 'POST', headers: {'Content-Type': 'application/json', ...auth},
    body: JSON.stringify({count: 2, delay_ms: 60000})});
  const location = launched.headers.get('Location');
  const run = await launched.json();
  const events = [];
  const finished = new Promise((resolve, reject) => {
    const source = new EventSource(base + location + '/events');
    const started = new Promise((startedResolve) => {
      source.addEventListener('task.started', () => startedResolve());
    });
    source.addEventListener('run.finished', (event) => {
      events.push('run.finished');
      source.close();
      resolve(JSON.parse(event.data));
    });
    source.addEventListener('run.started', () => events.push('run.started'));
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) reject(new Error('stream failed')); };
    window.started = started;
  });
  await window.started;
  const cancelled = await fetch(base + location, {method: 'DELETE', headers: auth});
  const ended = await finished;
  done({launch: launched.status, location, id: run.id, cancel: cancelled.status,
        ended: ended.status, events});
})().catch((error) => done({error: String(error)}));
"""

# One fetch; its status, or the error the browser gave instead.
FETCH = """
const [url, options, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
fetch(url, options).then((r) => done({status: r.status}), (e) => done({error: e.name}));
"""


def launch_stream_cancel(driver, lab, origin, token=None):
    driver.get(origin.url)
    return driver.execute_async_script(LAUNCH_STREAM_CANCEL, lab.base_url, token)


def fetch(driver, url, options):
    return driver.execute_async_script(FETCH, url, options)


@pytest.fixture
def servers():
    started = []

    def start(name, flags):
        server = start_lab(name, flags)
        started.append(server)
        return server

    yield start
    for server in started:
        terminate(server)


def test_a_page_on_another_origin_launches_streams_and_cancels(driver, servers):
    lab = servers("cors-any", [])
    with OtherOrigin() as origin:
        outcome = launch_stream_cancel(driver, lab, origin)
    assert "error" not in outcome, outcome
    assert outcome["launch"] == 201 and outcome["location"] == f"/runs/{outcome['id']}"
    assert outcome["cancel"] == 202
    assert outcome["ended"] == "cancelled" and outcome["events"][0] == "run.started"
    # The browser preflighted the JSON POST and the DELETE; the server answered both.
    assert settled_requests(lab, "OPTIONS", "/patterns/gather/runs", at_least=1) == [204]
    assert settled_requests(lab, "OPTIONS", f"/runs/{outcome['id']}", at_least=1) == [204]


def test_with_a_token_the_page_sends_it_and_credentialed_requests_are_refused(driver, servers):
    lab = servers("cors-token", ["--api-token", TOKEN])
    with OtherOrigin() as origin:
        outcome = launch_stream_cancel(driver, lab, origin, token=TOKEN)
        assert "error" not in outcome, outcome
        assert (outcome["launch"], outcome["cancel"], outcome["ended"]) == (201, 202, "cancelled")
        without = fetch(driver, lab.base_url + "/patterns/gather/runs",
                        {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": "{}"})
        assert without == {"status": 401}, "the refusal is readable: it carries the grant too"
        credentialed = fetch(driver, lab.base_url + "/runs", {"credentials": "include"})
        assert credentialed == {"error": "TypeError"}, "a credentialed request is never granted"


def test_a_list_grants_only_its_origins_and_none_grants_nothing(driver, servers):
    with OtherOrigin() as listed, OtherOrigin() as other:
        lab = servers("cors-list", ["--cors-origins", listed.url])
        assert "error" not in launch_stream_cancel(driver, lab, listed)
        driver.get(other.url)
        refused = fetch(driver, lab.base_url + "/patterns/gather/runs",
                        {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": "{}"})
        assert refused == {"error": "TypeError"}
        off = servers("cors-none", ["--cors-origins", "none"])
        driver.get(listed.url)
        assert fetch(driver, off.base_url + "/runs", {}) == {"error": "TypeError"}
        assert fetch(driver, off.base_url + "/patterns/gather/runs",
                     {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": "{}"}) == {
            "error": "TypeError"}
