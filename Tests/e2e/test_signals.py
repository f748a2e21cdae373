"""SIGTERM drains; a second SIGTERM exits at once.

- SIGTERM during active runs and open event streams: every stream ends with a final event
  (`run.finished` with status cancelled, or `server.shutdown`), the process exits 0 within
  the shutdown deadline, and a new process on the same --db file serves the runs as
  `cancelled`.
- A second SIGTERM right after the first: the process exits at once (non-zero is fine),
  killed by no signal (no crash, no core dump).
"""

import signal
import subprocess
import time

import pytest

import requests

from reliab import needs_binary, open_sse, read_sse, start_lab, terminate, wait_until

pytestmark = needs_binary

GRACE_S = 10
LONG_RUN = {"count": 3, "delay_ms": 60000}


def launch(lab, pattern="gather", params=LONG_RUN):
    response = requests.post(f"{lab.base_url}/patterns/{pattern}/runs", json=params, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def open_stream(lab, path, **kwargs):
    sock, head, leftover = open_sse(lab.port, path, **kwargs)
    assert head.status in (200, 201), head
    # The stream is live once its first frame (run.started) arrived.
    stream = read_sse(sock, head, leftover, timeout=15, until=("run.started",))
    assert [frame.event for frame in stream.frames][:1] == ["run.started"], stream.frames
    return sock, head, stream


def test_sigterm_ends_every_stream_with_a_final_event_and_saves_runs_cancelled(tmp_path):
    db = tmp_path / "signals.sqlite"
    lab = start_lab("signals-drain", ["--shutdown-grace", str(GRACE_S)], db=db)
    streams = []
    try:
        run_ids = [launch(lab) for _ in range(3)]
        run_ids.append(launch(lab, "semaphore", {"count": 4, "limit": 2, "delay_ms": 60000}))
        for run_id in run_ids:
            streams.append(open_stream(lab, f"/runs/{run_id}/events"))
        streams.append(open_stream(lab, f"/runs/{run_ids[0]}/events"))  # a second subscriber
        # One request that launches and streams.
        sock, head, stream = open_stream(lab, "/patterns/periodic/runs", method="POST",
                                         headers=[("Content-Type", "application/json")],
                                         body=b'{"interval_ms": 200, "duration_ms": 60000}')
        streams.append((sock, head, stream))
        run_ids.append(head.header("location").rsplit("/", 1)[1])

        signalled = time.monotonic()
        lab.process.send_signal(signal.SIGTERM)
        finals = []
        for sock, head, stream in streams:
            rest = read_sse(sock, head, b"", timeout=GRACE_S + 10)
            sock.close()
            assert rest.frames, "the stream ended without a final event"
            final = rest.frames[-1]
            assert final.event in ("run.finished", "server.shutdown"), [f.event for f in rest.frames][-5:]
            if final.event == "run.finished":
                assert final.json()["status"] == "cancelled", final.json()["status"]
            finals.append(final.event)
        status = lab.process.wait(timeout=GRACE_S + 10)
        took = time.monotonic() - signalled
        print(f"\nfinal events: {finals}; exit {status} {took:.2f} s after SIGTERM")
        assert status == 0, lab.log_path.read_text()[-2000:]
    finally:
        for sock, _, _ in streams:
            sock.close()
        terminate(lab)

    again = start_lab("signals-drain-restart", db=db)
    try:
        for run_id in run_ids:
            run = again.get_json(f"/runs/{run_id}")
            assert run["status"] == "cancelled", (run_id, run["status"])
            assert run["finished_at"]
    finally:
        assert terminate(again) == 0


def launch_blocking(lab, block_ms=15000):
    """A run whose one call blocks a dedicated thread: cancellation cannot cut it short,
    so a drain has to wait for it (up to the grace)."""
    return launch(lab, "blocking-offload", {"tasks": 1, "block_ms": block_ms, "mode": "offload", "threads": 1})


def test_drain_is_bounded_by_the_shutdown_grace(tmp_path):
    lab = start_lab("signals-grace", ["--shutdown-grace", "2"], db=tmp_path / "grace.sqlite")
    try:
        launch_blocking(lab, 30000)
        signalled = time.monotonic()
        lab.process.send_signal(signal.SIGTERM)
        status = lab.process.wait(timeout=2 + 10)
        took = time.monotonic() - signalled
        print(f"\nSIGTERM with a 30 s blocking call, grace 2 s: exit {status} after {took:.2f} s")
        assert status == 0, lab.log_path.read_text()[-2000:]
    finally:
        terminate(lab)


def test_second_sigterm_exits_at_once(tmp_path):
    lab = start_lab("signals-twice", ["--shutdown-grace", "60"], db=tmp_path / "twice.sqlite")
    sock = None
    try:
        launch_blocking(lab, 30000)
        run_id = launch(lab)
        sock, head, _ = open_stream(lab, f"/runs/{run_id}/events")
        lab.process.send_signal(signal.SIGTERM)
        # The drain is under way (and would wait up to 30 s for the blocking call) ...
        wait_until(lambda: "draining" in lab.log_path.read_text(), timeout=10, what="drain started")
        assert lab.process.poll() is None
        # ... and a second signal ends it at once.
        lab.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        status = lab.process.wait(timeout=15)
        took = time.monotonic() - signalled
        print(f"\nsecond SIGTERM during a drain: exit {status} after {took:.2f} s")
        assert status >= 0, f"killed by signal {-status}"  # no crash, no core dump
        assert status == 1
        assert "second signal: exiting now" in lab.log_path.read_text()
    finally:
        if sock:
            sock.close()
        terminate(lab)
