#!/usr/bin/env python3
"""A stand-in for the Concurrency Lab server that does what the real one cannot be made to do.

The page's fault handling needs a server that drops event streams mid-run or refuses them
outright; everything else the mock says comes from the real server, recorded in
Tests/e2e/fixture/server.json by scripts/gen-e2e-fixture.py: the catalog, and whole runs
(every frame, the final run) that the mock replays on their own timing. It invents no
pattern, event or check, and runs nothing: a launch whose parameters were not recorded is
refused with a 422 saying so.

    python3 Tests/e2e/mock_server.py --port 0 --drop-after 5       # close every stream after 5 frames
    python3 Tests/e2e/mock_server.py --port 0 --events-status 503  # no event stream at all

Standard library only. Binds 127.0.0.1 unless told otherwise.
"""

import argparse
import json
import mimetypes
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = os.path.normpath(os.path.join(HERE, "..", "..", "public"))
FIXTURE = os.path.join(HERE, "fixture", "server.json")
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


class Replay:
    """One recorded run, released frame by frame as its own `t_ms` comes due."""

    def __init__(self, run_id, recording):
        # The recording's id is replaced by this run's everywhere (its links, its final event).
        text = json.dumps(recording).replace(recording["id"], run_id)
        recording = json.loads(text)
        self.id, self.pattern = run_id, recording["pattern"]
        self.frames, self.final = recording["events"], recording["run"]
        self.t0 = time.monotonic()

    def elapsed_ms(self):
        return (time.monotonic() - self.t0) * 1000

    def released(self):
        """The frames due so far (all of them once `run.finished` is due)."""
        now = self.elapsed_ms()
        return [frame for frame in self.frames if frame["data"].get("t_ms", 0) <= now]

    def run(self):
        """The run as GET /runs/{id} shows it now: the recorded end once due, else running."""
        released = self.released()
        if released and released[-1]["event"] == "run.finished":
            return self.final
        progress = [frame["data"] for frame in released if frame["event"] == "progress"]
        total = self.final["progress"]["total"]
        completed = progress[-1]["completed"] if progress else 0
        return dict(self.final, status="running", finished_at=None, duration_ms=round(self.elapsed_ms(), 1),
                    progress={"completed": completed, "total": total}, result=None, checks=[],
                    checks_passed=None, timeline=None, error=None)

    def summary(self):
        run = dict(self.run())
        run.pop("result", None)
        run.pop("timeline", None)
        return run


class Lab:
    def __init__(self, fixture, drop_after, events_status):
        self.catalog = fixture["catalog"]
        self.health = fixture["healthz"]
        self.recordings = fixture["runs"]
        self.lock = threading.Lock()
        self.runs = {}
        self.drop_after = drop_after
        self.events_status = events_status

    def entry(self, name):
        return next((entry for entry in self.catalog["patterns"] if entry["name"] == name), None)

    def launch(self, entry, params):
        """A replay of the recording with these parameters (defaults filled in), or None."""
        defaults = {spec["name"]: spec["default"] for spec in entry["parameters"] if spec["default"] is not None}
        wanted = {**defaults, **params}
        recording = next((r for r in self.recordings if r["pattern"] == entry["name"] and r["params"] == wanted), None)
        if recording is None:
            return None
        with self.lock:
            run = Replay("mock-%04d" % (len(self.runs) + 1), recording)
            self.runs[run.id] = run
        return run


class Handler(BaseHTTPRequestHandler):
    server_version = "ConcurrencyLabMock/0.2"
    lab: Lab = None

    def log_message(self, fmt, *args):  # quiet unless asked
        if os.environ.get("MOCK_VERBOSE"):
            super().log_message(fmt, *args)

    def send_json(self, status, body, headers=None, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", self.headers.get("X-Request-Id", "mock-%d" % id(self)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def problem(self, status, kind, title, detail):
        body = {"type": f"urn:concurrency-lab:problem:{kind}", "title": title, "status": status, "detail": detail,
                "instance": urlsplit(self.path).path}
        self.send_json(status, body, None, "application/problem+json")

    def route(self):
        parts = urlsplit(self.path)
        return [unquote(p) for p in parts.path.split("/") if p], parse_qs(parts.query)

    def do_GET(self):
        segments, query = self.route()
        if segments == ["healthz"]:
            return self.send_json(200, self.lab.health)
        if segments == ["patterns"]:
            return self.send_json(200, self.lab.catalog)
        if len(segments) == 2 and segments[0] == "patterns":
            entry = self.lab.entry(segments[1])
            return self.send_json(200, entry) if entry else self.problem(404, "unknown-pattern", "Unknown Pattern", "no such pattern")
        if segments == ["runs"]:
            return self.list_runs(query)
        if len(segments) in (2, 3) and segments[0] == "runs":
            run = self.lab.runs.get(segments[1])
            if not run:
                return self.problem(404, "run-not-found", "Run Not Found", "no such run")
            if len(segments) == 2:
                self.wait_for(run, query)
                return self.send_json(200, run.run())
            if segments[2] == "events":
                return self.events(run, query)
        return self.static(segments)

    def do_POST(self):
        segments, _ = self.route()
        entry = self.lab.entry(segments[1]) if len(segments) == 3 and segments[::2] == ["patterns", "runs"] else None
        if entry is None:
            return self.problem(404, "not-found", "Not Found", "the mock launches runs of catalog patterns only")
        length = int(self.headers.get("Content-Length") or 0)
        params = json.loads(self.rfile.read(length) or b"{}")
        run = self.lab.launch(entry, params)
        if run is None:
            return self.problem(422, "invalid-parameters", "Not Recorded",
                                "the mock replays recorded runs only; add these parameters to SCENARIOS in "
                                "scripts/gen-e2e-fixture.py and rerun it")
        if "text/event-stream" in (self.headers.get("Accept") or ""):
            return self.stream(run, 0)
        return self.send_json(201, run.run(), {"Location": f"/runs/{run.id}"})

    def wait_for(self, run, query):
        deadline = time.monotonic() + min(float(query.get("wait", ["0"])[0] or 0), 60.0)
        while time.monotonic() < deadline and run.run()["status"] not in TERMINAL:
            time.sleep(0.02)

    def list_runs(self, query):
        pattern, status = query.get("pattern", [""])[0], query.get("status", [""])[0]
        runs = [run.summary() for run in reversed(list(self.lab.runs.values()))]
        runs = [r for r in runs if (not pattern or r["pattern"] == pattern) and (not status or r["status"] == status)]
        return self.send_json(200, {"runs": runs, "next_cursor": None})

    def events(self, run, query):
        if self.lab.events_status:
            return self.problem(self.lab.events_status, "events-refused", "Refused By The Mock",
                                "this mock refuses every event stream")
        after = query.get("after", [self.headers.get("Last-Event-ID") or "0"])[0]
        return self.stream(run, int(after) if after.isdigit() else 0)

    def stream(self, run, after):
        """Frames after `after` as they come due; the fault: the connection dropped after N."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(b"retry: 500\n\n")
            while True:
                frames = [frame for frame in run.released() if frame["id"] > after]
                if self.lab.drop_after:
                    frames = frames[: max(self.lab.drop_after - sent, 0)]
                for frame in frames:
                    self.wfile.write(b"id: %d\nevent: %s\ndata: %s\n\n" % (
                        frame["id"], frame["event"].encode(), json.dumps(frame["data"]).encode()))
                    after, sent = frame["id"], sent + 1
                    if frame["event"] == "run.finished":
                        return
                self.wfile.flush()
                if self.lab.drop_after and sent >= self.lab.drop_after:
                    return  # the dropped connection: the client resumes with Last-Event-ID
                if not frames and run.run()["status"] in TERMINAL:
                    return  # resumed after the last frame: nothing more will come
                time.sleep(0.03)
        except (BrokenPipeError, ConnectionResetError):
            return

    def static(self, segments):
        relative = "/".join(segments) or "index.html"
        path = os.path.normpath(os.path.join(PUBLIC, relative))
        if not path.startswith(PUBLIC + os.sep) or not os.path.isfile(path):
            return self.problem(404, "not-found", "Not Found", "no such file")
        with open(path, "rb") as handle:
            data = handle.read()
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind in ("text/javascript", "application/javascript"):
            kind = "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", kind + ("; charset=utf-8" if kind.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--drop-after", type=int, default=0,
                        help="close every event stream after this many frames (tests reconnection)")
    parser.add_argument("--events-status", type=int, default=0,
                        help="answer every event stream request with this HTTP status (tests the fallback)")
    args = parser.parse_args()
    with open(FIXTURE) as handle:
        Handler.lab = Lab(json.load(handle), args.drop_after, args.events_status)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print("mock concurrency-lab listening on http://%s:%d" % (args.host, server.server_address[1]), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
