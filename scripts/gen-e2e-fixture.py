#!/usr/bin/env python3
"""Writes Tests/e2e/fixture/server.json: what the real server says, for the e2e mock and checks.

The browser tests that need a misbehaving server (a dropped stream, a refused stream) run
against Tests/e2e/mock_server.py, which replays this fixture instead of simulating patterns,
so its catalog, event names and check names are the server's own:

    scripts/gen-e2e-fixture.py BINARY            # rewrite the fixture
    scripts/gen-e2e-fixture.py BINARY --check    # exit 1 if the fixture's vocabulary is stale

BINARY is the concurrency-lab executable. The script serves it on 127.0.0.1, port 0, reads
GET /healthz and GET /patterns, and records one run of every pattern in the catalog with its
defaults (plus SCENARIOS, the runs the mock-only tests launch) over `Accept:
text/event-stream`: every frame and the final run. It also records how a stream ends when the
server shuts down under it.

The check compares what does not depend on timing: the catalog, the recorded runs, and the
vocabulary (per run: its event names, check names, result figures, status; and the last
event a stream gets at shutdown). Rename an event in Swift and the check fails until the
fixture is regenerated; then Tests/e2e/test_page_vocabulary.py fails until public/js follows.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "Tests" / "e2e" / "fixture" / "server.json"
LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
# Runs recorded besides each pattern's defaults: the ones the mock-only browser tests launch.
SCENARIOS = [
    ("semaphore", {"count": 8, "limit": 4, "delay_ms": 300}),
    ("semaphore", {"count": 6, "limit": 3, "delay_ms": 300}),
]
# A run still blocking its thread when the server stops: its stream ends with the server's
# own last word instead of `run.finished`.
SHUTDOWN_RUN = ("blocking-offload", {"tasks": 1, "block_ms": 4000, "mode": "inline"})


class Server:
    """`BINARY serve` on a free port; stopped by its PID."""

    def __init__(self, binary, *extra):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
        self.base_url = self._wait_for_port()

    def _wait_for_port(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server exited with {self.process.returncode}: {self._log_text()}")
            match = LISTENING.search(self._log_bytes())
            if match:
                return match.group(1).decode()
            time.sleep(0.05)
        self.stop()
        sys.exit("the server printed no 'listening on' line")

    def _log_bytes(self):
        self.log.seek(0)
        return self.log.read()

    def _log_text(self):
        return self._log_bytes().decode(errors="replace")[-2000:]

    def get(self, path):
        with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
            return json.load(response)

    def launch_and_stream(self, pattern, params):
        """POST .../runs with Accept: text/event-stream: the run's id and every frame."""
        request = urllib.request.Request(
            f"{self.base_url}/patterns/{pattern}/runs", data=json.dumps(params).encode(), method="POST",
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        response = urllib.request.urlopen(request, timeout=60)
        run_id = response.headers["Location"].rsplit("/", 1)[-1]
        return run_id, read_frames(response)

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def read_frames(response):
    """The event frames of an SSE response (comments and `retry:` skipped), until it ends."""
    frames, frame = [], {}
    for raw in response:
        line = raw.decode().rstrip("\n")
        if not line:
            if "event" in frame:
                frames.append(frame)
            frame = {}
        elif line.startswith("id: "):
            frame["id"] = int(line[4:])
        elif line.startswith("event: "):
            frame["event"] = line[7:]
        elif line.startswith("data: "):
            frame["data"] = json.loads(line[6:])
    response.close()
    return frames


def with_defaults(entry, params):
    defaults = {spec["name"]: spec["default"] for spec in entry["parameters"] if spec["default"] is not None}
    return {**defaults, **params}


def record(server, entry, params):
    run_id, frames = server.launch_and_stream(entry["name"], params)
    if not frames or frames[-1]["event"] != "run.finished":
        sys.exit(f"{entry['name']} {params}: the stream did not end with run.finished: {frames[-3:]}")
    return {"pattern": entry["name"], "params": with_defaults(entry, params), "id": run_id,
            "events": frames, "run": server.get(f"/runs/{run_id}")}


def record_shutdown(binary):
    """The last event a stream gets when the server stops while its run still blocks a thread."""
    server = Server(binary, "--shutdown-grace", "1")
    try:
        pattern, params = SHUTDOWN_RUN
        request = urllib.request.Request(
            f"{server.base_url}/patterns/{pattern}/runs", data=json.dumps(params).encode(), method="POST",
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        response = urllib.request.urlopen(request, timeout=60)
        time.sleep(0.5)  # the run has started and is blocking
        server.process.send_signal(signal.SIGTERM)
        frames = read_frames(response)
    finally:
        server.stop()
    if not frames:
        sys.exit("the stream open at shutdown got no event")
    return frames[-1]["event"]


def vocabulary(runs, last_at_shutdown):
    """What the check compares: everything that does not depend on timing."""
    per_run = []
    for run in runs:
        final = run["run"]
        per_run.append({
            "pattern": run["pattern"], "params": run["params"], "status": final["status"],
            "events": sorted({frame["event"] for frame in run["events"]}),
            "checks": [check["name"] for check in final["checks"]],
            "result": sorted((final.get("result") or {}).keys()),
        })
    return {"runs": per_run, "last_event_at_shutdown": last_at_shutdown}


def render(binary):
    server = Server(binary)
    try:
        health = server.get("/healthz")
        catalog = server.get("/patterns")
        entries = {entry["name"]: entry for entry in catalog["patterns"]}
        wanted = [(name, {}) for name in entries] + SCENARIOS
        runs = [record(server, entries[name], params) for name, params in wanted]
    finally:
        server.stop()
    last_at_shutdown = record_shutdown(binary)
    return {
        "generated_by": "scripts/gen-e2e-fixture.py: do not edit, rerun it",
        "healthz": {"status": health["status"], "version": health["version"]},
        "catalog": catalog,
        "runs": runs,
        "vocabulary": vocabulary(runs, last_at_shutdown),
    }


def dump(fixture):
    """Indented, except the recorded runs, one line each: their timings change on every
    recording, so only the catalog's and the vocabulary's lines make a diff worth reading."""
    runs = ",\n".join("  " + json.dumps(run, sort_keys=True) for run in fixture["runs"])
    rest = json.dumps(dict(fixture, runs="RUNS"), indent=1, sort_keys=True)
    return rest.replace('"runs": "RUNS"', '"runs": [\n' + runs + '\n ]') + "\n"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    fixture = render(sys.argv[1])
    if "--check" in sys.argv:
        committed = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        stale = [key for key in ("catalog", "vocabulary") if committed.get(key) != fixture[key]]
        if stale:
            sys.exit(f"{FIXTURE.relative_to(ROOT)} is stale ({', '.join(stale)} changed): "
                     "run scripts/gen-e2e-fixture.py BINARY")
        print(f"{FIXTURE.relative_to(ROOT)} is up to date")
        return
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(dump(fixture))
    print(f"wrote {FIXTURE.relative_to(ROOT)} ({os.path.getsize(FIXTURE) // 1024} KiB)")


if __name__ == "__main__":
    main()
