"""A cluster behind nginx (deploy/nginx.conf): three instances on one PostgreSQL database.

- 60 runs launched through nginx are spread over the three, and every one is found, succeeded.
- Streams through nginx deliver every event exactly once, in order, resumable with Last-Event-ID.
- `--cluster-max-concurrent-runs 8`: of 40 simultaneous launches spread over the three, exactly 8
  are admitted and 32 answered 429 with Retry-After at once.
- kill -9 of an instance mid-run: its runs are `interrupted` within lease + 2 s, every stream of
  them on the others ends with `run.finished` (status interrupted), long-polls answer, no
  finished run is missing, and the survivors keep serving through nginx.
- Fencing: an instance SIGSTOPped past its lease finds its runs interrupted when it is SIGCONTed;
  its late writes are refused and it cancels the runs itself.
- PostgreSQL restarted while runs go: none is lost, none interrupted, /healthz ok again by itself.
- `--lease-seconds` and `--cluster-max-concurrent-runs` out of bounds, or the bound without
  PostgreSQL: refused at start, naming the flag.

Leases are short (3 s: on two busy cores a shorter one may expire under a live instance) and runs
short, to keep the file near 30 s.
"""

import concurrent.futures
import json
import re
import signal
import subprocess
import time

import pytest
import requests

from cluster import OUTPUT, Cluster, in_thread, stream
from postgres import Database, OwnServer
from reliab import BINARY, environment, needs_binary, wait_until

pytestmark = needs_binary

LEASE = 3


@pytest.fixture(scope="module")
def database():
    db = Database()
    yield db
    db.drop()


@pytest.fixture(scope="module")
def bounded(database):
    """The shared cluster: a short lease, at most 8 runs active across it."""
    cluster = Cluster(database.url, ["n1", "n2", "n3"],
                      ("--lease-seconds", str(LEASE), "--cluster-max-concurrent-runs", "8"))
    yield cluster
    cluster.stop()


def launch(base_url, pattern, params, wait=None, timeout=30):
    query = f"?wait={wait}" if wait is not None else ""
    return requests.post(f"{base_url}/patterns/{pattern}/runs{query}", json=params, timeout=timeout)


def gauge(server, name):
    text = requests.get(f"{server.base_url}/metrics", timeout=10).text
    match = re.search(rf"^{name} (\S+)$", text, flags=re.M)
    return float(match.group(1)) if match else None


def permits_taken(database):
    return int(database.sql("SELECT count(*) FROM run_permits WHERE run_id IS NOT NULL"))


def test_sixty_runs_through_nginx_are_spread_over_the_three(bounded, database):
    quick = {"count": 4, "limit": 2, "delay_ms": 5}
    # Four at a time: a run's permit returns with its final save, just after its ?wait answer.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: launch(bounded.base_url, "semaphore", quick, wait=20), range(60)))
    assert [a.status_code for a in answers] == [200] * 60, [a.text for a in answers if a.status_code != 200][:3]
    runs = [a.json() for a in answers]
    assert all(run["status"] == "succeeded" for run in runs)
    ids = {run["id"] for run in runs}
    assert len(ids) == 60
    owners = database.sql("SELECT string_agg(n::text, ',' ORDER BY n) FROM (SELECT count(*) AS n FROM runs "
                          f"WHERE id IN ({','.join(repr(i) for i in ids)}) GROUP BY owner) o")
    counts = [int(n) for n in owners.split(",")]
    assert len(counts) == 3 and sum(counts) == 60 and min(counts) >= 10, counts  # round robin: 20 each
    # Every instance, and nginx, answers for every run.
    for server in bounded.instances:
        for run_id in list(ids)[:5]:
            assert requests.get(f"{server.base_url}/runs/{run_id}", timeout=10).json()["status"] == "succeeded"
    wait_until(lambda: permits_taken(database) == 0, timeout=10, what="every permit returned")


def test_streams_through_nginx_deliver_every_event_exactly_once(bounded):
    run = launch(bounded.base_url, "periodic", {"interval_ms": 50, "duration_ms": 1500, "work_ms": 0}).json()
    path = f"/runs/{run['id']}/events"
    # Three streams through nginx: round robin lands them on different instances (the owner's
    # memory and two followers of the database).
    joins = [in_thread(stream, bounded.nginx.port, path) for _ in range(3)]
    streams = [join() for join in joins]
    for got in streams:
        ids = [frame.id for frame in got.frames]
        assert ids == list(range(1, len(ids) + 1)), ids  # each once, in order, none missing
        assert got.frames[-1].event == "run.finished"
        assert got.frames[-1].json()["status"] == "succeeded"
        assert sum(frame.event == "tick" for frame in got.frames) >= 20
    assert [[(f.id, f.event, f.data) for f in s.frames] for s in streams[1:]] == \
        [[(f.id, f.event, f.data) for f in streams[0].frames]] * 2
    resumed = stream(bounded.nginx.port, path, headers=[("Last-Event-ID", "10")])
    assert [(f.id, f.data) for f in resumed.frames] == [(f.id, f.data) for f in streams[0].frames[10:]]


def test_cluster_bound_admits_exactly_eight_of_forty_simultaneous_launches(bounded, database):
    wait_until(lambda: permits_taken(database) == 0, timeout=10, what="every permit free")
    long = {"count": 2, "delay_ms": 4000}
    targets = [bounded.instances[i % 3].base_url for i in range(40)]

    def one(base_url):
        started = time.monotonic()
        answer = launch(base_url, "gather", long)
        return answer, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        results = list(pool.map(one, targets))
    statuses = [answer.status_code for answer, _ in results]
    assert statuses.count(201) == 8 and statuses.count(429) == 32, statuses
    for answer, took in results:
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.headers["Content-Type"].startswith("application/problem+json")
            assert took < 2.0, took  # at once, not queued
    admitted = [answer.json()["id"] for answer, _ in results if answer.status_code == 201]
    assert permits_taken(database) == 8
    assert gauge(bounded.instances[0], "lab_cluster_run_permits_limit") == 8
    wait_until(lambda: gauge(bounded.instances[1], "lab_cluster_run_permits_in_use") == 8,
               timeout=LEASE * 2, what="permits in use in /metrics")
    # Still full: one more is refused; cancelling one admits one.
    assert launch(bounded.base_url, "gather", long).status_code == 429
    assert requests.delete(f"{bounded.base_url}/runs/{admitted[0]}", timeout=10).status_code == 202
    wait_until(lambda: permits_taken(database) == 7, timeout=10, what="the cancelled run's permit returned")
    again = launch(bounded.base_url, "gather", long)
    assert again.status_code == 201, again.text
    for run_id in admitted[1:] + [again.json()["id"]]:
        requests.delete(f"{bounded.base_url}/runs/{run_id}", timeout=10)
    wait_until(lambda: permits_taken(database) == 0, timeout=10, what="every permit returned")


def test_kill_9_interrupts_the_runs_within_the_lease_and_every_stream_ends(database):
    cluster = Cluster(database.url, ["k1", "k2", "k3"], ("--lease-seconds", str(LEASE)))
    doomed, survivors = cluster.instances[0], cluster.instances[1:]
    try:
        finished = [launch(doomed.base_url, "semaphore", {"count": 4, "limit": 2, "delay_ms": 5}, wait=20).json()
                    for _ in range(5)]
        assert all(run["status"] == "succeeded" for run in finished)
        running = [launch(doomed.base_url, "periodic", {"interval_ms": 100, "duration_ms": 30000, "work_ms": 0}).json()
                   for _ in range(3)]
        streams = [in_thread(stream, survivor.port, f"/runs/{run['id']}/events", timeout=30)
                   for run in running for survivor in survivors]
        polls = [in_thread(requests.get, f"{survivors[0].base_url}/runs/{run['id']}?wait=30", timeout=40)
                 for run in running]
        wait_until(lambda: all(requests.get(f"{survivors[1].base_url}/runs/{run['id']}", timeout=5)
                               .json()["progress"]["completed"] >= 3 for run in running),
                   timeout=10, what="the runs' progress seen from the others")

        killed_at = time.monotonic()
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait()

        def all_interrupted():
            return all(requests.get(f"{survivors[0].base_url}/runs/{run['id']}", timeout=5).json()["status"]
                       == "interrupted" for run in running)
        wait_until(all_interrupted, timeout=LEASE + 8, interval=0.05, what="the killed instance's runs interrupted")
        to_interrupted = time.monotonic() - killed_at
        ended = []
        for join in streams:
            got = join(30)
            ended.append(time.monotonic() - killed_at)
            assert got.frames[-1].event == "run.finished", got.frames[-3:]
            assert got.frames[-1].json()["status"] == "interrupted"
            ids = [frame.id for frame in got.frames]
            assert ids == list(range(1, len(ids) + 1))
        to_last_stream_end = max(ended)
        print(f"\nfailover: kill -9 to interrupted {to_interrupted:.2f} s, to the last stream's end "
              f"{to_last_stream_end:.2f} s (lease {LEASE} s)")
        OUTPUT.mkdir(exist_ok=True)
        (OUTPUT / "cluster-failover.json").write_text(json.dumps(
            {"lease_s": LEASE, "to_interrupted_s": round(to_interrupted, 3),
             "to_last_stream_end_s": round(to_last_stream_end, 3)}))
        assert to_interrupted <= LEASE + 2, to_interrupted
        assert to_last_stream_end <= LEASE + 2.5, to_last_stream_end
        for poll in polls:
            answer = poll(30)
            assert answer.status_code == 200 and answer.json()["status"] == "interrupted"
        # Interrupted once: one run.finished each.
        for run in running:
            assert database.sql(f"SELECT count(*) FROM events WHERE run_id = '{run['id']}' "
                                "AND name = 'run.finished'") == "1"
        # No finished run is missing, and the survivors serve on, through nginx.
        for run in finished:
            assert requests.get(f"{cluster.base_url}/runs/{run['id']}", timeout=10).json()["status"] == "succeeded"
        more = [launch(cluster.base_url, "semaphore", {"count": 4, "limit": 2, "delay_ms": 5}, wait=20)
                for _ in range(6)]
        assert [answer.status_code for answer in more] == [200] * 6
    finally:
        cluster.stop()


def test_an_owner_stopped_past_its_lease_cannot_bring_its_runs_back(database):
    cluster = Cluster(database.url, ["f1", "f2"], ("--lease-seconds", str(LEASE)))
    owner, other = cluster.instances
    try:
        run = launch(owner.base_url, "periodic", {"interval_ms": 100, "duration_ms": 20000, "work_ms": 0}).json()
        path = f"/runs/{run['id']}"
        wait_until(lambda: requests.get(other.base_url + path, timeout=5).json()["progress"]["completed"] >= 3,
                   timeout=10, what="progress seen from the other")
        owner.process.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: requests.get(other.base_url + path, timeout=5).json()["status"] == "interrupted",
                       timeout=LEASE + 8, what="the stopped owner's run interrupted")
            stored = database.sql(f"SELECT max(id) FROM events WHERE run_id = '{run['id']}'")
        finally:
            owner.process.send_signal(signal.SIGCONT)
        # The owner notices (its next renewal or its next write, refused) and cancels the run here:
        # it ends now, not at its 20 s, and reads as the database says.
        wait_until(lambda: requests.get(owner.base_url + path, timeout=5).json()["status"] == "interrupted",
                   timeout=LEASE + 3, what="the owner giving the run up")
        time.sleep(0.3)  # room for a late write, were one to get through
        assert database.sql(f"SELECT max(id) FROM events WHERE run_id = '{run['id']}'") == stored
        assert database.sql(f"SELECT status FROM runs WHERE id = '{run['id']}'") == "interrupted"
        assert requests.get(other.base_url + path, timeout=5).json()["status"] == "interrupted"
        assert gauge(owner, "lab_runs_active") == 0
        assert "cancelling them here" in owner.log_path.read_text()
        # It serves on, as a member of the cluster.
        assert launch(owner.base_url, "semaphore", {"count": 2, "limit": 1, "delay_ms": 5}, wait=20).status_code == 200
    finally:
        cluster.stop()


def test_postgresql_restarted_while_runs_go_loses_none():
    pg = OwnServer()
    cluster = None
    try:
        cluster = Cluster(pg.url, ["r1", "r2", "r3"], ("--lease-seconds", str(LEASE)))
        runs = [launch(cluster.base_url, "periodic", {"interval_ms": 100, "duration_ms": 3000, "work_ms": 0}).json()
                for _ in range(6)]
        time.sleep(0.5)
        pg.stop()
        wait_until(lambda: all(requests.get(f"{s.base_url}/healthz", timeout=5).json()["store"] == "failing"
                               for s in cluster.instances), timeout=10, what="every instance seeing the store fail")
        pg.start()
        wait_until(lambda: all(requests.get(f"{s.base_url}/healthz", timeout=5).json()["store"] == "ok"
                               for s in cluster.instances), timeout=15, what="/healthz ok again on every instance")
        for run in runs:
            ended = requests.get(f"{cluster.base_url}/runs/{run['id']}?wait=15", timeout=20).json()
            assert ended["status"] == "succeeded", ended["status"]
        wait_until(lambda: pg_count(pg.url, "SELECT count(*) FROM runs WHERE status = 'succeeded'") == 6,
                   timeout=10, what="every run saved")
        assert pg_count(pg.url, "SELECT count(*) FROM runs WHERE status = 'interrupted'") == 0
    finally:
        if cluster:
            cluster.stop()
        pg.remove()


def pg_count(url, statement):
    from postgres import sql
    return int(sql(url, statement))


@pytest.mark.parametrize("flags, says", [
    (["--lease-seconds", "0"], "--lease-seconds must be from 1 to 3600, got 0"),
    (["--lease-seconds", "3601"], "--lease-seconds must be from 1 to 3600"),
    (["--cluster-max-concurrent-runs", "0", "--db", "postgresql://lab@127.0.0.1:1/x"],
     "--cluster-max-concurrent-runs must be from 1 to 100000, got 0"),
    (["--cluster-max-concurrent-runs", "8", "--db", ":memory:"], "--cluster-max-concurrent-runs needs --db postgresql://"),
])
def test_cluster_flags_are_bounded_and_refused_naming_the_flag(flags, says):
    result = subprocess.run([BINARY, "serve", "--port", "0", *flags], capture_output=True, text=True, timeout=30,
                            env=environment({"LAB_DATABASE_URL": None}))
    assert result.returncode != 0
    assert says in result.stderr, result.stderr
