#!/usr/bin/env python3
"""A small deterministic stand-in for the Concurrency Lab server (DESIGN.md section 3).

Serves public/ and the JSON/SSE routes of the API contract, so the browser page can be built
and tested before the real server exists. Runs are simulated (mock_sim.py): a plan computed
up front whose events are released as wall-clock time passes; DELETE cuts the plan short.

    python3 Tests/e2e/mock_server.py --port 0        # prints "listening on http://127.0.0.1:PORT"
    python3 Tests/e2e/mock_server.py --drop-after 5  # close every event stream after 5 frames
    python3 Tests/e2e/mock_server.py --events-status 503  # no event streams at all

Standard library only. Binds 127.0.0.1 unless told otherwise.
"""

import argparse
import base64
import bisect
import json
import mimetypes
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mock_catalog import BY_NAME, MAX_PLANNED_MS, PATTERNS, SPAN_CAP  # noqa: E402
from mock_sim import SIMULATIONS, cross_check, planned_ms  # noqa: E402

PUBLIC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "public"))
TERMINAL_TASK_EVENTS = {"ok": "task.finished", "error": "task.failed", "cancelled": "task.cancelled",
                        "timeout": "task.timeout"}
MAX_CONCURRENT_RUNS = 64
STARTED = time.monotonic()


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MockRun:
    """One simulated run: its plan, the events it releases over time, and its cancellation."""

    def __init__(self, run_id, pattern, params, plan):
        self.id, self.pattern, self.params, self.plan = run_id, pattern, params, plan
        self.created = datetime.now(timezone.utc)
        self.t0 = time.monotonic()
        self.cancel_at = None
        self.duration = plan.duration
        self.ends = sorted(_span_ends(plan))
        self.events = self._build_events()
        self.times = [e[0] for e in self.events]

    def _build_events(self):
        events = [(0.0, "run.started", {"pattern": self.pattern, "params": self.params})]
        for s in self.plan.spans:
            events.append((s["start_ms"], "task.started", {"task": s["task"], "label": s["label"]}))
            data = {"task": s["task"], "label": s["label"], "duration_ms": round(s["end_ms"] - s["start_ms"], 1)}
            if s.get("error"):
                data["error"] = s["error"]
            events.append((s["end_ms"], TERMINAL_TASK_EVENTS[s["outcome"]], data))
        events += self.plan.events
        # Coalesced like the server's: at most one progress per 50 ms, and always one at the
        # end of a burst of tasks ending together, so the count never lags behind.
        last = -1e9
        for index, t in enumerate(self.ends):
            next_end = self.ends[index + 1] if index + 1 < len(self.ends) else None
            if next_end is not None and next_end - t < 1 and next_end - last < 50:
                continue
            if t - last >= 50 or next_end is None or next_end - t >= 50:
                events.append((t + 0.01, "progress", {"completed": index + 1, "total": self.plan.total}))
                last = t
        events.sort(key=lambda e: e[0])
        return events

    def elapsed_ms(self):
        return (time.monotonic() - self.t0) * 1000

    def cancel(self):
        if self.cancel_at is None and self.elapsed_ms() < self.duration:
            self.cancel_at = self.elapsed_ms()
            return True
        return False

    def state(self):
        """How far the run has got: its cutoff on the run clock, and whether it has ended."""
        cutoff = self.cancel_at if self.cancel_at is not None else self.elapsed_ms()
        return cutoff, self.cancel_at is not None or cutoff >= self.duration

    def frames_after(self, after):
        """The frames released so far with an id above `after`, and whether the last one is final."""
        cutoff, finished = self.state()
        visible = bisect.bisect_right(self.times, cutoff)
        frames = []
        for i in range(after, visible):
            t, name, data = self.events[i]
            frames.append((i + 1, name, dict(data, t_ms=t)))
        if not finished:
            return frames, False
        extra = []
        if self.cancel_at is not None:
            for s in self.plan.spans:
                if s["start_ms"] <= cutoff < s["end_ms"]:
                    extra.append(("task.cancelled", {
                        "task": s["task"], "label": s["label"], "t_ms": round(cutoff + 0.3, 1),
                        "duration_ms": round(cutoff + 0.3 - s["start_ms"], 1)}))
        run = self.run()
        extra.append(("run.finished", dict(run, t_ms=run["duration_ms"])))
        for offset, (name, data) in enumerate(extra):
            frame_id = visible + offset + 1
            if frame_id > after:
                frames.append((frame_id, name, data))
        return frames, True

    def run(self):
        cutoff, finished = self.state()
        status = "running"
        if finished:
            status = "cancelled" if self.cancel_at is not None else ("failed" if self.plan.failed else "succeeded")
        completed = bisect.bisect_right(self.ends, cutoff)
        run = {
            "id": self.id, "pattern": self.pattern, "params": self.params, "status": status,
            "created_at": iso(self.created), "started_at": iso(self.created + timedelta(milliseconds=0.4)),
            "finished_at": None, "duration_ms": None,
            "progress": {"completed": completed, "total": self.plan.total},
            "result": None, "checks": [], "timeline": self.timeline(cutoff, finished),
            "error": self.plan.failed if finished else None,
            "links": {"self": f"/runs/{self.id}", "events": f"/runs/{self.id}/events"},
        }
        if finished:
            duration = round(cutoff, 1) if self.cancel_at is not None else self.duration
            run["duration_ms"] = duration
            run["finished_at"] = iso(self.created + timedelta(milliseconds=duration))
            if self.cancel_at is None:
                run["result"], run["checks"] = self.plan.result, self.plan.checks
            else:
                run["result"] = {"cancelled_at_ms": round(cutoff, 1), "completed": completed}
                run["checks"] = [{"name": "every_task_ended", "expected": "true", "observed": True, "passed": True}]
        return run

    def timeline(self, cutoff, finished):
        spans, outcomes = [], {"ok": 0, "error": 0, "cancelled": 0, "timeout": 0}
        for s in self.plan.spans:
            if s["start_ms"] > cutoff:
                continue
            if s["end_ms"] <= cutoff:
                spans.append(s)
            elif finished:
                spans.append(dict(s, end_ms=round(cutoff + 0.3, 1), outcome="cancelled"))
            else:
                continue
            outcomes[spans[-1]["outcome"]] += 1
        if finished and self.cancel_at is None:
            outcomes = dict(self.plan.outcomes)
        return {"spans": spans, "truncated": self.plan.total > SPAN_CAP, "tasks": self.plan.total,
                "outcomes": outcomes}

    def summary(self):
        run = self.run()
        del run["timeline"], run["result"]
        run["checks_passed"] = all(c["passed"] for c in run["checks"]) if run["checks"] else None
        return run


def _span_ends(plan):
    ends = [s["end_ms"] for s in plan.spans]
    # Tasks past the span cap still count for progress: spread them like the capped ones.
    if plan.total > len(ends) and ends:
        last = max(ends)
        ends += [last] * (plan.total - len(ends))
    return ends


class Lab:
    def __init__(self, drop_after, events_status=0):
        self.lock = threading.Lock()
        self.runs = {}
        self.order = []
        self.drop_after = drop_after
        self.events_status = events_status

    def create(self, pattern, params):
        plan = SIMULATIONS[pattern](params)
        with self.lock:
            running = sum(1 for r in self.runs.values() if r.run()["status"] == "running")
            if running >= MAX_CONCURRENT_RUNS:
                return None
            run_id = "mock-%04d" % (len(self.order) + 1)
            run = MockRun(run_id, pattern, params, plan)
            self.runs[run_id] = run
            self.order.append(run_id)
            return run


def validate(entry, body):
    errors, params = [], {}
    specs = {p["name"]: p for p in entry["parameters"]}
    for name in sorted(body):
        if name not in specs:
            errors.append({"field": name, "message": "unknown parameter; accepted: " + ", ".join(specs)})
    for name, spec in specs.items():
        if name not in body:
            if spec["default"] is not None:
                params[name] = spec["default"]
            continue
        value, ok = body[name], True
        kind = spec["type"]
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool) and spec["min"] <= value <= spec["max"]
            bounds = "an integer from %d to %d" % (spec["min"], spec["max"])
        elif kind == "boolean":
            ok = isinstance(value, bool)
            bounds = "true or false"
        elif kind == "string":
            ok = isinstance(value, str) and value in spec.get("choices", [value])
            bounds = "one of " + ", ".join("'%s'" % c for c in spec.get("choices", []))
        else:
            if isinstance(value, str):
                try:
                    value = [int(v) for v in value.split(",")]
                except ValueError:
                    value = None
            ok = (isinstance(value, list) and 0 < len(value) <= spec["max_items"]
                  and all(isinstance(v, int) and spec["min"] <= v <= spec["max"] for v in value))
            bounds = "a list of 1 to %d integers, each from %d to %d" % (spec["max_items"], spec["min"], spec["max"])
        if ok:
            params[name] = value
        else:
            errors.append({"field": name, "message": "must be " + bounds})
    if errors:
        return None, errors
    errors = cross_check(entry["name"], params)
    if errors:
        return None, errors
    planned = planned_ms(entry["name"], params)
    if planned > MAX_PLANNED_MS:
        return None, [{"field": "params", "message": "planned duration %d ms exceeds the limit of %d s"
                       % (planned, MAX_PLANNED_MS // 1000)}]
    return params, []


class Handler(BaseHTTPRequestHandler):
    server_version = "ConcurrencyLabMock/0.1"
    lab: Lab = None

    def log_message(self, fmt, *args):  # quiet unless asked
        if os.environ.get("MOCK_VERBOSE"):
            super().log_message(fmt, *args)

    # -- plumbing -------------------------------------------------------------------------

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

    def problem(self, status, title, detail, errors=None, headers=None):
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if errors is not None:
            body["errors"] = errors
        self.send_json(status, body, headers, "application/problem+json")

    def route(self):
        parts = urlsplit(self.path)
        return [unquote(p) for p in parts.path.split("/") if p], parse_qs(parts.query)

    # -- methods --------------------------------------------------------------------------

    def do_GET(self):
        segments, query = self.route()
        if segments == ["healthz"]:
            return self.send_json(200, {"status": "ok", "version": "mock-0.1",
                                        "uptime_s": round(time.monotonic() - STARTED, 1)})
        if segments == ["patterns"]:
            return self.send_json(200, {"patterns": PATTERNS})
        if len(segments) == 2 and segments[0] == "patterns":
            entry = BY_NAME.get(segments[1])
            if not entry:
                return self.problem(404, "Not Found", "no pattern named '%s'" % segments[1])
            return self.send_json(200, entry)
        if segments == ["runs"]:
            return self.list_runs(query)
        if len(segments) >= 2 and segments[0] == "runs":
            run = self.lab.runs.get(segments[1])
            if not run:
                return self.problem(404, "Not Found", "no run with id '%s'" % segments[1])
            if len(segments) == 2:
                self.wait_for(run, query)
                return self.send_json(200, run.run())
            if segments[2:] == ["events"]:
                if self.lab.events_status:
                    return self.problem(self.lab.events_status, "Service Unavailable", "event streams are off (mock)")
                after = query.get("after", [self.headers.get("Last-Event-ID") or "0"])[0]
                return self.stream(run, int(after) if after.isdigit() else 0)
        return self.static(segments)

    def do_POST(self):
        segments, query = self.route()
        if len(segments) != 3 or segments[0] != "patterns" or segments[2] != "runs":
            return self.problem(404, "Not Found", "no route for POST %s" % self.path)
        entry = BY_NAME.get(segments[1])
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not entry:
            return self.problem(404, "Not Found", "no pattern named '%s'" % segments[1])
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as error:
            return self.problem(400, "Bad Request", "the body is not a JSON object: %s" % error)
        params, errors = validate(entry, body)
        if errors:
            return self.problem(422, "Unprocessable Content", "the parameters are not valid", errors)
        run = self.lab.create(entry["name"], params)
        if run is None:
            return self.problem(429, "Too Many Requests", "too many runs in flight", headers={"Retry-After": "2"})
        if "text/event-stream" in (self.headers.get("Accept") or ""):
            return self.stream(run, 0)
        location = {"Location": "/runs/%s" % run.id}
        if "wait" in query:
            self.wait_for(run, query)
            current = run.run()
            return self.send_json(202 if current["status"] == "running" else 200, current, location)
        return self.send_json(201, run.run(), location)

    def do_DELETE(self):
        segments, _ = self.route()
        if len(segments) != 2 or segments[0] != "runs":
            return self.problem(404, "Not Found", "no route for DELETE %s" % self.path)
        run = self.lab.runs.get(segments[1])
        if not run:
            return self.problem(404, "Not Found", "no run with id '%s'" % segments[1])
        if not run.cancel():
            return self.problem(409, "Conflict", "the run has already ended")
        return self.send_json(202, run.run())

    # -- handlers -------------------------------------------------------------------------

    def wait_for(self, run, query):
        try:
            wait = min(float(query.get("wait", ["0"])[0]), 60.0)
        except ValueError:
            wait = 0.0
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and run.run()["status"] == "running":
            time.sleep(0.02)

    def list_runs(self, query):
        pattern = query.get("pattern", [""])[0]
        status = query.get("status", [""])[0]
        limit = max(1, min(int(query.get("limit", ["20"])[0] or 20), 100))
        cursor = query.get("cursor", [""])[0]
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        summaries = [self.lab.runs[i].summary() for i in reversed(self.lab.order)]
        summaries = [s for s in summaries if (not pattern or s["pattern"] == pattern)
                     and (not status or s["status"] == status)]
        page = summaries[offset: offset + limit]
        more = offset + limit < len(summaries)
        next_cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        return self.send_json(200, {"runs": page, "next_cursor": next_cursor})

    def stream(self, run, after):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        sent, last_write = 0, time.monotonic()
        try:
            self.wfile.write(b"retry: 500\n\n")
            while True:
                frames, finished = run.frames_after(after)
                if self.lab.drop_after:
                    frames = frames[: max(self.lab.drop_after - sent, 0)]
                if frames:
                    chunk = ["id: %d\nevent: %s\ndata: %s\n\n" % (i, name, json.dumps(data)) for i, name, data in frames]
                    self.wfile.write("".join(chunk).encode())
                    self.wfile.flush()
                    after, sent, last_write = frames[-1][0], sent + len(frames), time.monotonic()
                if self.lab.drop_after and sent >= self.lab.drop_after:
                    return  # the mock's dropped connection: the client resumes with Last-Event-ID
                if finished and frames and frames[-1][1] == "run.finished":
                    return
                if finished and not frames:
                    return
                if time.monotonic() - last_write > 5:
                    self.wfile.write(b": heartbeat\n\n")
                    self.wfile.flush()
                    last_write = time.monotonic()
                time.sleep(0.03)
        except (BrokenPipeError, ConnectionResetError):
            return

    def static(self, segments):
        relative = "/".join(segments) or "index.html"
        path = os.path.normpath(os.path.join(PUBLIC, relative))
        if not path.startswith(PUBLIC + os.sep) or not os.path.isfile(path):
            return self.problem(404, "Not Found", "no such file: /%s" % relative)
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
    Handler.lab = Lab(args.drop_after, args.events_status)
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
