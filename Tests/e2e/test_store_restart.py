"""Run history survives restarts (the SQLite store behind `--db`).

- A new process on the same --db file serves every run as it was: GET /runs/ID, the SSE
  replay of GET /runs/ID/events (the same frames, ending with run.finished), and GET /runs.
- kill -9 during runs: the next start marks them `interrupted`; every run that had finished
  is intact.
- `--db` in a folder that does not exist creates it; a corrupt file (garbage bytes) makes
  `serve` exit non-zero with a message naming the file.
"""

import os
import sqlite3
import subprocess

import requests

from reliab import BINARY, hard_kill, needs_binary, open_sse, read_sse, start_lab, terminate, wait_until

pytestmark = needs_binary

FINISHED_RUNS = [
    ("gather", {"count": 5, "delay_ms": 5}),
    ("semaphore", {"count": 6, "limit": 2, "delay_ms": 5}),
    ("task-group", {"count": 4, "delay_ms": 50, "fail_index": 1, "fail_after_ms": 5}),
    ("producer-consumer", {"items": 10, "producers": 2, "consumers": 2, "maxsize": 2}),
    ("first-completed", {"delays_ms": [30, 10, 20]}),
]


def finish_runs(lab):
    runs = []
    for pattern, params in FINISHED_RUNS:
        response = requests.post(f"{lab.base_url}/patterns/{pattern}/runs?wait=20", json=params, timeout=30)
        assert response.status_code == 200, response.text
        runs.append(response.json())
    return runs


def replay(lab, run_id):
    sock, head, leftover = open_sse(lab.port, f"/runs/{run_id}/events")
    try:
        assert head.status == 200
        stream = read_sse(sock, head, leftover, timeout=20)
    finally:
        sock.close()
    assert stream.frames[-1].event == "run.finished"
    return [(frame.id, frame.event, frame.data) for frame in stream.frames]


def listing(lab):
    return requests.get(lab.base_url + "/runs?limit=500", timeout=10).json()


def stored_status(db, run_id):
    """The run's status in the file, read-only (the server writes asynchronously)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            row = connection.execute("SELECT status FROM run WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def test_runs_events_and_listing_survive_a_restart(tmp_path):
    db = tmp_path / "restart.sqlite"
    lab = start_lab("restart-first", db=db)
    try:
        runs = finish_runs(lab)
        frames = {run["id"]: replay(lab, run["id"]) for run in runs}
        before = listing(lab)
    finally:
        assert terminate(lab) == 0

    again = start_lab("restart-second", db=db)
    try:
        for run in runs:
            assert again.get_json(f"/runs/{run['id']}") == run
            assert replay(again, run["id"]) == frames[run["id"]]
        after = listing(again)
        assert [item["id"] for item in after["runs"]] == [item["id"] for item in before["runs"]]
        assert after == before
        # The history is newest first and every run is in it.
        assert [item["id"] for item in after["runs"]] == [run["id"] for run in reversed(runs)]
    finally:
        assert terminate(again) == 0


def test_kill_9_marks_running_runs_interrupted_and_keeps_finished_ones(tmp_path):
    db = tmp_path / "kill9.sqlite"
    lab = start_lab("kill9-first", db=db)
    try:
        finished = finish_runs(lab)
        running = []
        for _ in range(3):
            response = requests.post(lab.base_url + "/patterns/gather/runs", json={"count": 4, "delay_ms": 60000},
                                     timeout=10)
            assert response.status_code == 201
            running.append(response.json()["id"])
        # Writes are asynchronous: kill once the file holds every run (the finished ones
        # finished, the running ones running), as a crash at that moment would leave it.
        for run in finished:
            wait_until(lambda: stored_status(db, run["id"]) == run["status"], timeout=20,
                       what=f"run {run['id']} saved")
        for run_id in running:
            wait_until(lambda: stored_status(db, run_id) in ("queued", "running"), timeout=20,
                       what=f"run {run_id} saved as running")
    finally:
        hard_kill(lab)
    assert lab.process.returncode == -9

    again = start_lab("kill9-second", db=db)
    try:
        for run_id in running:
            run = again.get_json(f"/runs/{run_id}")
            assert run["status"] == "interrupted", run["status"]
            assert run["finished_at"]
        for run in finished:
            assert again.get_json(f"/runs/{run['id']}") == run
            assert replay(again, run["id"])[-1][1] == "run.finished"
        statuses = {item["id"]: item["status"] for item in listing(again)["runs"]}
        assert all(statuses[run_id] == "interrupted" for run_id in running)
        # The interrupted runs' streams end too.
        assert replay(again, running[0])[-1][1] == "run.finished"
    finally:
        assert terminate(again) == 0


def test_db_in_a_missing_folder_is_created(tmp_path):
    db = tmp_path / "not" / "yet" / "there" / "lab.sqlite"
    lab = start_lab("db-new-folder", db=db)
    try:
        run = lab.post_json("/patterns/gather/runs?wait=10", {"count": 2, "delay_ms": 1})
        assert run["status"] == "succeeded"
        assert db.is_file()
    finally:
        assert terminate(lab) == 0


def test_corrupt_db_file_makes_serve_exit_non_zero_naming_the_file(tmp_path):
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(os.urandom(16384))
    result = subprocess.run([BINARY, "serve", "--host", "127.0.0.1", "--port", "0", "--db", str(db)],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    print(f"\ncorrupt db: exit {result.returncode}: {output.strip()[-500:]}")
    assert result.returncode != 0
    assert str(db) in output, output
    assert "listening on" not in output
