"""Several instances on one PostgreSQL database (`serve --db postgresql://...`), over real HTTP.

- A run launched on A is read, long-polled, streamed (replay and live: the frames equal A's,
  byte for byte) and cancelled from B.
- The history survives both instances' restart.
- 1,000 runs launched across both are listed exactly once each, newest first, in pages of 50
  from either.
- PostgreSQL going away under a running instance: runs go on, /healthz says the store is
  failing, reads that need it answer 503, and when it is back the instance reconnects by itself
  and writes what finished meanwhile.
- A malformed URL, an unreachable server, refused credentials or a newer schema at start: one
  line, exit status 2, and never the password.
"""

import concurrent.futures
import socket
import subprocess
import threading
import time

import pytest
import requests

from postgres import Database, OwnServer, with_password
from reliab import (BINARY, _take_chunks, _recv, environment, needs_binary, open_sse, start_lab, terminate,
                    wait_until)

pytestmark = needs_binary


@pytest.fixture
def database():
    db = Database()
    yield db
    db.drop()


def start_instance(name, url, *flags):
    return start_lab(name, ("--instance-name", name, *flags), db=url)


def stream_bytes(port, path, headers=(), timeout=60):
    """The body of an event stream until its `run.finished` frame (heartbeats left out)."""
    sock, head, leftover = open_sse(port, path, headers=headers, timeout=timeout)
    try:
        assert head.status == 200, head
        deadline = time.monotonic() + timeout
        raw, body = leftover, b""
        while b"event: run.finished\n" not in body or not body.endswith(b"\n\n"):
            data, raw = _take_chunks(raw)
            body += data
            if b"event: run.finished\n" in body and body.endswith(b"\n\n"):
                break
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            raw += chunk
        return body.replace(b": heartbeat\n\n", b"")
    finally:
        sock.close()


def in_thread(function, *args):
    result = {}

    def run():
        try:
            result["value"] = function(*args)
        except BaseException as error:  # reported by the caller
            result["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join(timeout=90):
        thread.join(timeout)
        if "error" in result:
            raise result["error"]
        assert not thread.is_alive(), f"{function.__name__} did not finish"
        return result["value"]
    return join


def test_a_run_launched_on_a_is_read_long_polled_streamed_and_cancelled_from_b(database):
    a = start_instance("a", database.url)
    b = start_instance("b", database.url)
    try:
        response = requests.post(f"{a.base_url}/patterns/periodic/runs",
                                 json={"interval_ms": 100, "duration_ms": 2500, "work_ms": 0}, timeout=10)
        assert response.status_code == 201, response.text
        run = response.json()
        path = f"/runs/{run['id']}"
        # B knows the run as soon as A answered the launch.
        on_b = requests.get(b.base_url + path, timeout=10)
        assert on_b.status_code == 200, on_b.text
        assert on_b.json()["status"] == "running"
        assert on_b.json()["links"] == run["links"]

        streams = {name: in_thread(stream_bytes, server.port, path + "/events")
                   for name, server in (("a", a), ("b", b))}
        polled = in_thread(lambda: requests.get(f"{b.base_url}{path}?wait=30", timeout=40))
        progress = wait_until(lambda: (p := requests.get(b.base_url + path, timeout=10).json())["progress"]["completed"] > 0
                              and p, timeout=20, what="progress seen from B")
        assert progress["status"] == "running" and progress["progress"]["completed"] <= progress["progress"]["total"]

        frames = {name: join() for name, join in streams.items()}
        assert frames["b"] == frames["a"]  # byte for byte, live
        assert frames["a"].count(b"event: tick\n") >= 10
        long_poll = polled()
        assert long_poll.status_code == 200
        ended = requests.get(a.base_url + path, timeout=10).json()
        assert ended["status"] == "succeeded"
        assert long_poll.json() == ended  # B woke at the end, and says what A says

        # Replays, from the start and from a cursor, once the run ended.
        assert stream_bytes(b.port, path + "/events") == frames["a"]
        assert stream_bytes(b.port, path + "/events", headers=[("Last-Event-ID", "5")]) == \
            stream_bytes(a.port, path + "/events", headers=[("Last-Event-ID", "5")])
        last = frames["a"].count(b"\nevent: ")
        assert requests.get(f"{b.base_url}{path}/events?after={last}", timeout=10).status_code == 204

        # Cancel from B a run that runs on A.
        long = requests.post(f"{a.base_url}/patterns/gather/runs", json={"count": 3, "delay_ms": 60000}, timeout=10).json()
        cancel = requests.delete(f"{b.base_url}/runs/{long['id']}", timeout=10)
        assert cancel.status_code == 202, cancel.text
        assert requests.get(f"{a.base_url}/runs/{long['id']}?wait=10", timeout=20).json()["status"] == "cancelled"
        assert requests.get(f"{b.base_url}/runs/{long['id']}?wait=10", timeout=20).json()["status"] == "cancelled"
        again = requests.delete(f"{b.base_url}/runs/{long['id']}", timeout=10)
        assert again.status_code == 409 and again.json()["run"]["status"] == "cancelled"
        assert requests.delete(f"{b.base_url}/runs/01KNOWNNOTHING0000000000000", timeout=10).status_code == 404
    finally:
        terminate(a)
        terminate(b)


def test_history_survives_both_instances_restart(database):
    a = start_instance("a", database.url)
    b = start_instance("b", database.url)
    try:
        runs = [requests.post(f"{server.base_url}/patterns/semaphore/runs?wait=20",
                              json={"count": 4, "limit": 2, "delay_ms": 5}, timeout=30).json()
                for server in (a, b, a, b)]
        replays = {run["id"]: stream_bytes(a.port, f"/runs/{run['id']}/events") for run in runs}
        listing = requests.get(a.base_url + "/runs", timeout=10).json()
    finally:
        assert terminate(a) == 0
        assert terminate(b) == 0
    a = start_instance("a", database.url)
    b = start_instance("b", database.url)
    try:
        for server in (a, b):
            assert requests.get(server.base_url + "/runs", timeout=10).json() == listing
            for run in runs:
                assert requests.get(f"{server.base_url}/runs/{run['id']}", timeout=10).json() == run
                assert stream_bytes(server.port, f"/runs/{run['id']}/events") == replays[run["id"]]
    finally:
        terminate(a)
        terminate(b)


def test_a_thousand_runs_across_both_are_listed_once_each_newest_first_in_pages_of_50(database):
    a = start_instance("a", database.url, "--max-concurrent-runs", "256")
    b = start_instance("b", database.url, "--max-concurrent-runs", "256")
    try:
        session = threading.local()

        def launch(index):
            server = (a, b)[index % 2]
            if not hasattr(session, "http"):
                session.http = requests.Session()
            response = session.http.post(f"{server.base_url}/patterns/gather/runs?wait=10",
                                         json={"count": 1, "delay_ms": 0}, timeout=30)
            assert response.status_code == 200, response.text
            return response.json()["id"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            launched = list(pool.map(launch, range(1000)))
        assert len(set(launched)) == 1000
        for server in (a, b):
            seen, cursor, pages = [], None, 0
            while True:
                query = "limit=50" + (f"&cursor={cursor}" if cursor else "")
                page = requests.get(f"{server.base_url}/runs?{query}", timeout=10).json()
                assert len(page["runs"]) <= 50
                seen += [run["id"] for run in page["runs"]]
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert pages == 20
            assert len(seen) == len(set(seen)) == 1000
            assert set(seen) == set(launched)
            assert seen == sorted(seen, reverse=True)
    finally:
        terminate(a)
        terminate(b)


def test_postgres_going_away_leaves_runs_going_and_is_survived():
    pg = OwnServer()
    a = None
    try:
        a = start_instance("a", pg.url)
        long = requests.post(f"{a.base_url}/patterns/periodic/runs",
                             json={"interval_ms": 100, "duration_ms": 5000, "work_ms": 0}, timeout=10).json()
        pg.stop()
        wait_until(lambda: requests.get(a.base_url + "/healthz", timeout=5).json()["store"] == "failing",
                   timeout=15, what="/healthz saying the store fails")
        listing = requests.get(a.base_url + "/runs", timeout=10)
        assert listing.status_code == 503
        assert listing.headers["content-type"] == "application/problem+json"
        assert listing.json()["type"] == "urn:concurrency-lab:problem:store-unavailable"
        # Runs go on, and are served from memory.
        during = requests.post(f"{a.base_url}/patterns/gather/runs?wait=20", json={"count": 2, "delay_ms": 50}, timeout=30)
        assert during.status_code == 200 and during.json()["status"] == "succeeded"
        assert requests.get(f"{a.base_url}/runs/{during.json()['id']}", timeout=10).json() == during.json()

        pg.start()
        wait_until(lambda: requests.get(a.base_url + "/healthz", timeout=5).json()["store"] == "ok",
                   timeout=30, what="/healthz saying the store is back")
        finished = requests.get(f"{a.base_url}/runs/{long['id']}?wait=20", timeout=30).json()
        assert finished["status"] == "succeeded"
        # What finished while the database was away is in it: a new instance serves it.
        b = start_instance("b", pg.url)
        try:
            for run in (during.json(), finished):
                stored = wait_until(lambda: (r := requests.get(f"{b.base_url}/runs/{run['id']}", timeout=10)).status_code == 200
                                    and r.json()["status"] == "succeeded" and r.json(), timeout=20, what="the run stored")
                assert stored == run
                assert stream_bytes(b.port, f"/runs/{run['id']}/events") == stream_bytes(a.port, f"/runs/{run['id']}/events")
        finally:
            terminate(b)
    finally:
        if a is not None:
            terminate(a)
        pg.remove()


def start_failure(args, env=None):
    result = subprocess.run([BINARY, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60,
                            env=environment(env))
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return result.returncode, lines


@pytest.mark.parametrize("kind", ["malformed", "unreachable", "credentials", "environment"])
def test_a_database_that_cannot_be_used_stops_the_start_with_one_line_and_exit_2(database, kind):
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    urls = {
        "malformed": "postgresql://lab:hunter2@/nodatabase",
        "unreachable": f"postgresql://lab:hunter2@127.0.0.1:{free}/lab?sslmode=disable",
        "credentials": with_password(database.url, "hunter2"),
    }
    if kind == "environment":
        status, lines = start_failure([], env={"LAB_DATABASE_URL": urls["unreachable"]})
    else:
        status, lines = start_failure(["--db", urls[kind]])
    assert status == 2, lines
    assert len(lines) == 1 and "cannot start" in lines[0], lines
    assert "hunter2" not in lines[0]
    expected = {"malformed": "malformed PostgreSQL URL", "unreachable": "cannot reach the run store",
                "credentials": "refused the credentials", "environment": "cannot reach the run store"}[kind]
    assert expected in lines[0], lines


def test_a_database_from_a_newer_build_is_refused(database):
    a = start_instance("a", database.url)
    terminate(a)
    database.sql("INSERT INTO schema_versions (version, name) VALUES (99, 'from the future')")
    status, lines = start_failure(["--db", database.url])
    assert status == 2
    assert len(lines) == 1 and "newer version" in lines[0] and "schema version 99" in lines[0], lines
