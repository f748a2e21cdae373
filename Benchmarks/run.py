#!/usr/bin/env python3
"""`make bench` / `make bench-quick`: the service against reference peers, in the same run.

usage: Benchmarks/run.py full|quick   (run by Benchmarks/run.sh in the repo's .venv)

Builds what it needs (the release server, the raw Swift peer with `swiftc -O`, and the C
programs of reference/build.sh: the libmicrohttpd hello server, the SSE broadcaster and the
clients, into .build-bench/), then runs each row, alternating the systems
and repeating, and prints one table; the same goes to Benchmarks/results/latest.json.

Every batch (row) records /proc/loadavg before it and the CPU that processes other than
ours used during it (from /proc/stat minus our own children and the servers): a batch in
which others used more than a tenth of a core on average is marked disturbed.
"""
import asyncio
import json
import math
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "Benchmarks")
OUT = os.path.join(ROOT, ".build-bench")
SERVER_BIN = os.path.join(ROOT, ".build", "release", "concurrency-lab")
RAW_BIN = os.path.join(OUT, "raw")
HELLO_BIN = os.path.join(OUT, "hello")
HELLO_EXT_BIN = os.path.join(OUT, "hello_ext")
SSE_BIN = os.path.join(OUT, "sse_client")
SSE_PEER_BIN = os.path.join(OUT, "sse_server")
ACCEPT_BIN = os.path.join(OUT, "accept_burst")
PY = sys.executable  # the .venv's python (run.sh), which has uvloop
PEER_PY = os.path.join(BENCH, "peers", "peer.py")
CORES = os.cpu_count() or 1
CLK = os.sysconf("SC_CLK_TCK")

MODE = sys.argv[1] if len(sys.argv) > 1 else "quick"
if MODE not in ("quick", "full"):
    sys.exit("usage: run.py full|quick")
QUICK = MODE == "quick"
# Quick keeps every row, with fewer or shorter repetitions, so that `make bench-quick` stays
# under 3 minutes; the goals are the same.
CFG = {
    "health_reps": 2 if QUICK else 3,
    "health_secs": 2 if QUICK else 10,
    "gather_reps": 3 if QUICK else 5,
    "big_reps": 1 if QUICK else 5,
    "sem_reps": 2 if QUICK else 5,
    "pc_reps": 2 if QUICK else 5,
    "rss_reps": 1 if QUICK else 3,
    "sse_secs": 4 if QUICK else 10,
    "sse_subscribers": 3000 if QUICK else 10000,
    "accept_connections": 10000,
    "accept_reps": 1 if QUICK else 3,
    "clients_reps": 2 if QUICK else 3,
    "clients_secs": 4 if QUICK else 10,
    "pg_reps": 1 if QUICK else 3,
    "virtual_reps": 2 if QUICK else 5,
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- building


def build():
    t0 = time.time()
    os.makedirs(OUT, exist_ok=True)
    log("bench: swift build -c release --product concurrency-lab")
    subprocess.run(["swift", "build", "-c", "release", "--product", "concurrency-lab"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    src = os.path.join(BENCH, "peers", "raw.swift")
    if not os.path.exists(RAW_BIN) or os.path.getmtime(RAW_BIN) < os.path.getmtime(src):
        log("bench: swiftc -O raw.swift")
        subprocess.run(["swiftc", "-O", src, "-o", RAW_BIN], check=True)
    subprocess.run([os.path.join(BENCH, "reference", "build.sh")], check=True, stdout=subprocess.DEVNULL)
    log(f"bench: built in {time.time() - t0:.1f}s")


# ---------------------------------------------------------------- machine load


def cpu_busy_jiffies():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    v = [int(x) for x in parts]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle


def proc_cpu_jiffies(pid, stat_path=None):
    """User and system jiffies of a process (or of one of its threads: `stat_path` is then
    /proc/PID/task/TID/stat); 0 when it is gone."""
    try:
        with open(stat_path or f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError):
        return 0


class Batch:
    """Records load before a row and the foreign CPU during it."""

    def __init__(self, name, servers):
        self.name = name
        self.servers = servers

    def own(self):
        t = os.times()
        own = (t.user + t.system + t.children_user + t.children_system) * CLK
        return own + sum(proc_cpu_jiffies(s.pid) for s in self.servers if s)

    def __enter__(self):
        with open("/proc/loadavg") as f:
            self.loadavg = f.read().split()[:3]
        self.t0 = time.time()
        self.busy0 = cpu_busy_jiffies()
        self.own0 = self.own()
        return self

    def __exit__(self, *exc):
        secs = max(time.time() - self.t0, 1e-3)
        foreign = (cpu_busy_jiffies() - self.busy0) - (self.own() - self.own0)
        self.foreign_cores = max(foreign, 0) / CLK / secs
        self.disturbed = self.foreign_cores > 0.10
        self.secs = secs
        return False

    def info(self):
        return {"loadavg_before": " ".join(self.loadavg), "foreign_cpu_cores": round(self.foreign_cores, 2),
                "disturbed": self.disturbed, "seconds": round(self.secs, 1)}


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Set once a row has failed: the servers' logs are kept for a look (Server.stop).
ROW_FAILED = False


class Server:
    """The release server on a free port. log_level "info" is serve's default (it writes an
    access-log line per request); "notice" turns the access log off."""

    def __init__(self, extra=(), log_level="info", db=":memory:"):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
        self.stopped = False
        self.port = free_port()
        self.proc = subprocess.Popen([SERVER_BIN, "serve", "--port", str(self.port), "--db", db,
                                      "--log-level", log_level, *extra],
                                     stderr=self.log, stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start (log {self.log.name})")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop(keep_log=True)
        raise RuntimeError("the server did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_kb(self):
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM", "VmRSS")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def wait_idle(self, limit=10.0):
        """Returns once the server used no CPU for 100 ms (at most `limit` s): a finished run's
        store write goes on after its answer, and must not run into the next measurement
        (a peer's, or another run's)."""
        deadline = time.time() + limit
        last = self.cpu_ticks()
        while time.time() < deadline:
            time.sleep(0.1)
            now = self.cpu_ticks()
            if now == last:
                return
            last = now

    def stop(self, keep_log=False):
        """Stops the server. A clean exit takes its log with it: at the default level the
        /healthz row alone writes about 800 MB of access-log lines, which every run of the
        bench used to leave in /tmp. The log is kept, and the bench says where, when the
        server exited other than cleanly, when the caller asks (it did not start), and once any
        row has failed (`ROW_FAILED`)."""
        if self.stopped:
            return
        self.stopped = True
        terminate(self.proc, 15)
        self.log.close()
        if self.proc.returncode != 0 or keep_log or ROW_FAILED:
            log(f"bench: the server exited with {self.proc.returncode}; its log is {self.log.name}")
        elif os.path.exists(self.log.name):
            os.unlink(self.log.name)


def terminate(proc, grace):
    """SIGTERM, then SIGKILL if `proc` has not exited within `grace` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class SSEPeer:
    """reference/sse_server.c: the SSE row's raw peer, a C broadcaster ticking for `secs`,
    sending from `threads` threads (1 or 2)."""

    def __init__(self, secs, threads=1):
        self.proc = subprocess.Popen([SSE_PEER_BIN, str(secs), str(threads)], stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        try:
            port, started = self.proc.stdout.readline().split()
            self.port, self.started = int(port), float(started)
        except ValueError:
            self.stop()
            raise RuntimeError("sse_server did not print its port and start") from None

    def stop(self):
        terminate(self.proc, 5)
        self.proc.stdout.close()


class Hello:
    def __init__(self, binary=HELLO_BIN):
        self.port = free_port()
        self.proc = subprocess.Popen([binary, str(self.port)], stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError("hello did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(5)


def http_json(url, body=None, method=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def post_run(server, pattern, params, wait=60):
    """The run's record and the client's wall time from the request's first byte leaving (the
    connection is opened just before) to the last byte of the answer read: one POST over a raw
    socket, its bytes built beforehand. urllib, used before, spent 4-5 ms of its own before it
    connected and 3 ms parsing the head after the server had answered (measured with the
    server's trace of the same requests), about 5 % of a 160 ms run's wall counted against
    the service that the peers, which time themselves, never pay. Parsing the JSON (800 KB for
    a gather of 10,000) is the client's cost too, and comes after the clock stops."""
    body = json.dumps(params).encode()
    head = (f"POST /patterns/{pattern}/runs?wait={wait} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    request = head.encode() + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as sock:
        t0 = time.perf_counter()
        sock.sendall(request)
        status, answer = read_http_response(sock)
        client_ms = (time.perf_counter() - t0) * 1000
    run = json.loads(answer)
    if status != 200 or run.get("status") != "succeeded":
        raise RuntimeError(f"{pattern} run: HTTP {status}, status {run.get('status')}, error {run.get('error')}")
    server.wait_idle()
    return run, client_ms


def read_http_response(sock):
    """(status, body) of one HTTP/1.1 response with a Content-Length (what the service sends
    for a run's record)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError(f"connection closed before the response head ({bytes(data[:200])!r})")
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    lines = bytes(data[:end]).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), None)
    if length is None:
        raise RuntimeError(f"response without Content-Length: {lines[:8]}")
    body = bytearray(data[end:])
    while len(body) < length:
        chunk = sock.recv(max(1 << 20, length - len(body)))
        if not chunk:
            raise RuntimeError(f"connection closed after {len(body)} of {length} body bytes")
        body += chunk
    return status, bytes(body[:length])


# The service links mimalloc (Package.swift); the raw Swift peer is a plain `swiftc -O` program
# on glibc's malloc, as a user would write it. "raw-mimalloc" is the same peer with mimalloc
# preloaded: printed beside the goal's peer so that what the allocator alone gives is seen.
MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"


def peer(kind, *args):
    env = None
    if kind in ("raw", "raw-mimalloc"):
        cmd = [RAW_BIN, *map(str, args)]
        if kind == "raw-mimalloc":
            env = {**os.environ, "LD_PRELOAD": MIMALLOC}
    else:
        cmd = [PY, PEER_PY, kind, *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- statistics


def summary(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "samples": xs}


def rotations(systems, reps):
    """Alternate the systems: each rep starts one further along."""
    for r in range(reps):
        k = r % len(systems)
        yield r, systems[k:] + systems[:k]


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    a = abs(v)
    s = f"{v:,.0f}" if a >= 1000 else f"{v:.1f}" if a >= 10 else f"{v:.3f}" if a < 2 else f"{v:.2f}"
    return s + unit


def fmt_share(v):
    return "-" if v is None else f"{v:.2f}"


def fmt_sum(s, unit=""):
    if not s:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"], unit)
    return f"{fmt(s['median'], unit)} [{fmt(s['min'])}-{fmt(s['max'])}]"


ROWS = []


def add_row(name, service, peers, ratios, goal, met, batch, note="", detail=None):
    ROWS.append({"benchmark": name, "service": service, "peers": peers, "ratios": ratios, "goal": goal,
                 "met": met, "batch": batch.info() if batch else None, "note": note, "detail": detail or {}})
    log(f"bench: {name}: service {fmt_sum(service.get('value')) if service else '-'}; "
        f"ratios {ratios}; goal {goal}: {'MET' if met else 'not met' if met is False else 'n/a'}"
        f"{' (disturbed)' if batch and batch.disturbed else ''}")


def not_measured(name, goal, reason, batch=None):
    ROWS.append({"benchmark": name, "service": None, "peers": {}, "ratios": {}, "goal": goal, "met": None,
                 "batch": batch.info() if batch else None, "note": f"not measured: {reason}", "detail": {}})
    log(f"bench: {name}: not measured: {reason}")


# ---------------------------------------------------------------- rows


def wrk(url, conns, secs, threads=2, script=None, timeout="10s"):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency", f"--timeout={timeout}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True, timeout=secs + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = parse_latency(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    p50 = parse_latency(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1).strip() if errors else "", "requests": total}


def worker_jiffies(pid):
    """CPU jiffies of each of the process's libmicrohttpd workers (threads named MHD-worker, as
    libmicrohttpd names them in the C servers and in the service), by thread id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "MHD-worker":
                    continue
        except OSError:
            continue
        out[tid] = proc_cpu_jiffies(pid, f"/proc/{pid}/task/{tid}/stat")
    return out


def wrk_by_worker(url, pid, conns, secs):
    """wrk's figures, plus the busiest worker's share of the workers' CPU during the run (0.5:
    even over two workers; 1: one worker did everything): on 2 cores shared with wrk, how the
    connections fell on the workers moves p99 more than anything the server does per request."""
    before = worker_jiffies(pid)
    r = wrk(url, conns, secs)
    after = worker_jiffies(pid)
    used = [after[t] - before.get(t, 0) for t in after]
    r["busiest_worker_share"] = round(max(used) / sum(used), 2) if used and sum(used) > 0 else None
    return r


def parse_latency(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)", s)
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1, "s": 1000, "m": 60000}[u]


def row_health(server, extra):
    name = "GET /healthz, wrk 64 connections"
    goal = ">= 0.9x C req/s; p99 <= 5 ms"
    hello = Hello()
    hello_ext = quiet = None
    try:
        hello_ext = Hello(HELLO_EXT_BIN)
        quiet = Server(extra, log_level="notice")
        res = {"service": [], "c": [], "quiet": [], "c_ext": []}
        urls = {"service": server.url("/healthz"), "quiet": quiet.url("/healthz"),
                "c": f"http://127.0.0.1:{hello.port}/healthz", "c_ext": f"http://127.0.0.1:{hello_ext.port}/healthz"}
        pids = {"service": server.pid, "quiet": quiet.pid, "c": hello.pid, "c_ext": hello_ext.pid}
        with Batch(name, [server, hello, quiet, hello_ext]) as b:
            for u in urls.values():  # warm up
                wrk(u, 64, 1)
            for _, order in rotations(["service", "c", "quiet"], CFG["health_reps"]):
                for s in order:
                    res[s].append(wrk_by_worker(urls[s], pids[s], 64, CFG["health_secs"]))
            # After the goal's rotation, which keeps its order: the C server accepting as
            # MicroHTTP does (one accepting thread, connections spread by descriptor).
            for _ in range(CFG["health_reps"]):
                res["c_ext"].append(wrk_by_worker(urls["c_ext"], pids["c_ext"], 64, CFG["health_secs"]))
    finally:
        for started in (hello, hello_ext, quiet):
            if started is not None:
                started.stop()
    qrps = summary([r["rps"] for r in res["quiet"]])
    qp99 = summary([r["p99_ms"] for r in res["quiet"]])
    srps = summary([r["rps"] for r in res["service"]])
    crps = summary([r["rps"] for r in res["c"]])
    sp99 = summary([r["p99_ms"] for r in res["service"]])
    cp99 = summary([r["p99_ms"] for r in res["c"]])
    xrps = summary([r["rps"] for r in res["c_ext"]])
    xp99 = summary([r["p99_ms"] for r in res["c_ext"]])
    ratio = srps["median"] / crps["median"]
    bad = sum(r["non2xx"] for r in res["service"])
    met = ratio >= 0.9 and sp99["median"] <= 5 and bad == 0
    add_row(name, {"value": srps, "unit": "req/s", "p99_ms": sp99},
            {"C libmicrohttpd hello": {"value": crps, "unit": "req/s", "p99_ms": cp99},
             "service --log-level notice (no access log)": {"value": qrps, "unit": "req/s", "p99_ms": qp99},
             "C libmicrohttpd hello accepting as MicroHTTP does (not a goal)": {"value": xrps, "unit": "req/s", "p99_ms": xp99}},
            {"vs C": round(ratio, 3), "no-access-log vs C": round(qrps["median"] / crps["median"], 3),
             "vs C accepting as MicroHTTP (not a goal)": round(srps["median"] / xrps["median"], 3)}, goal, met, b,
            note=f"service (serve defaults: info log, one access-log line per request) p99 {fmt_sum(sp99, ' ms')}; "
                 f"service --log-level notice {fmt_sum(qrps)} req/s p99 {fmt_sum(qp99, ' ms')}; "
                 f"C p99 {fmt_sum(cp99, ' ms')}; C accepting as MicroHTTP does (one accepting thread, "
                 f"connections spread over the workers by descriptor; not a goal) {fmt_sum(xrps)} req/s "
                 f"p99 {fmt_sum(xp99, ' ms')}; wrk -t2 -c64 "
                 f"{CFG['health_secs']}s x{CFG['health_reps']}; p99 ms of each run, with the busiest worker's "
                 f"share of the workers' CPU (0.5 = even): "
                 + "; ".join(f"{label} " + ", ".join(f"{fmt(r['p99_ms'])} ({fmt_share(r['busiest_worker_share'])})"
                                                    for r in res[key])
                             for key, label in (("service", "service"), ("c", "C"), ("c_ext", "C accepting as MicroHTTP")))
                 + (f"; {bad} non-2xx" if bad else ""),
            detail={"wrk": res})


def row_gather(server, n, goal_text, goals):
    name = f"gather N={n:,}, 100 ms"
    delay = 100
    reps = CFG["gather_reps"] if n <= 10000 else CFG["big_reps"]
    res = {k: [] for k in ("service", "service_server", "raw", "raw-mimalloc", "asyncio", "uvloop")}
    with Batch(name, [server]) as b:
        post_run(server, "gather", {"count": min(n, 1000), "delay_ms": 10})  # warm-up
        for _, order in rotations(["service", "raw", "asyncio", "uvloop"], reps):
            for s in order:
                if s == "service":
                    run, client_ms = post_run(server, "gather", {"count": n, "delay_ms": delay})
                    res["service"].append(delay / client_ms)
                    res["service_server"].append(run["result"]["efficiency"])
                else:
                    out = peer(s, "gather", n, delay)
                    res[s].append(delay / out["wall_ms"])
        # After the goal's rotation, so that its order and pairing stay as they were.
        if os.path.exists(MIMALLOC):
            for _ in range(reps):
                res["raw-mimalloc"].append(delay / peer("raw-mimalloc", "gather", n, delay)["wall_ms"])
    sm = {k: summary(v) for k, v in res.items()}
    ratios = {f"vs {k}": round(sm["service"]["median"] / sm[k]["median"], 3) for k in ("raw", "asyncio", "uvloop")}
    met = all(ratios[f"vs {k}"] >= g for k, g in goals.items())
    peers = {"raw Swift": {"value": sm["raw"]}, "asyncio": {"value": sm["asyncio"]}, "uvloop": {"value": sm["uvloop"]}}
    allocator = ""
    if sm["raw-mimalloc"]:
        peers["raw Swift, mimalloc preloaded (not a goal)"] = {"value": sm["raw-mimalloc"]}
        allocator = (f"; the service links mimalloc, the raw Swift peer uses glibc's malloc: with mimalloc preloaded it makes "
                     f"{fmt_sum(sm['raw-mimalloc'])} (service vs that {sm['service']['median'] / sm['raw-mimalloc']['median']:.3f})")
    add_row(name, {"value": sm["service"], "unit": "efficiency (client wall)", "server_reported": sm["service_server"]},
            peers, ratios, goal_text, met, b,
            note=f"efficiency = 100 ms / wall; service wall measured by the client over HTTP, request sent to answer read (server's own figure "
                 f"{fmt_sum(sm['service_server'])}){allocator}; x{reps}")


def row_semaphore(server):
    name = "semaphore K=100, N=10,000, 10 ms"
    n, k, d = 10000, 100, 10
    ideal = math.ceil(n / k) * d
    res = {x: [] for x in ("service", "service_server", "raw", "asyncio", "uvloop")}
    with Batch(name, [server]) as b:
        for _, order in rotations(["service", "raw", "asyncio", "uvloop"], CFG["sem_reps"]):
            for s in order:
                if s == "service":
                    run, client_ms = post_run(server, "semaphore", {"count": n, "limit": k, "delay_ms": d})
                    res["service"].append(client_ms / ideal)
                    res["service_server"].append(run["result"]["wall_ms"] / ideal)
                else:
                    res[s].append(peer(s, "semaphore", n, k, d)["wall_ms"] / ideal)
    sm = {x: summary(v) for x, v in res.items()}
    behind_raw = sm["service"]["median"] - sm["raw"]["median"]
    met = sm["service"]["median"] <= 1.03 and behind_raw <= 0.01
    add_row(name, {"value": sm["service"], "unit": "wall/ideal (client)", "server_reported": sm["service_server"]},
            {"raw Swift": {"value": sm["raw"]}, "asyncio": {"value": sm["asyncio"]}, "uvloop": {"value": sm["uvloop"]}},
            {"minus raw Swift": round(behind_raw, 3)}, "<= 1.03 and within 0.01 of raw Swift", met, b,
            note=f"ideal {ideal} ms; server's own wall/ideal {fmt_sum(sm['service_server'])}; x{CFG['sem_reps']}")


def row_pc(server):
    name = "producer-consumer 1M items, maxsize 100, 1P/4C"
    items = 1_000_000
    params = {"items": items, "maxsize": 100, "producers": 1, "consumers": 4, "produce_ms": 0, "consume_ms": 0}
    res = {x: [] for x in ("service", "service_server", "asyncio", "uvloop")}
    with Batch(name, [server]) as b:
        for _, order in rotations(["service", "asyncio", "uvloop"], CFG["pc_reps"]):
            for s in order:
                if s == "service":
                    run, client_ms = post_run(server, "producer-consumer", params)
                    r = run["result"]
                    if r.get("consumed") != items or r.get("duplicates") or r.get("missing"):
                        raise RuntimeError(f"producer-consumer result wrong: {r}")
                    res["service"].append(items / (client_ms / 1000))
                    res["service_server"].append(r["items_per_second"])
                else:
                    res[s].append(peer(s, "producer-consumer", items, 100, 1, 4)["items_per_second"])
    sm = {x: summary(v) for x, v in res.items()}
    ratios = {f"vs {k}": round(sm["service"]["median"] / sm[k]["median"], 3) for k in ("asyncio", "uvloop")}
    met = ratios["vs uvloop"] >= 1.0
    add_row(name, {"value": sm["service"], "unit": "items/s (client wall)", "server_reported": sm["service_server"]},
            {"asyncio": {"value": sm["asyncio"]}, "uvloop": {"value": sm["uvloop"]}}, ratios, ">= 1.0x uvloop", met, b,
            note=f"produce_ms=consume_ms=0; server's own items/s {fmt_sum(sm['service_server'])}; x{CFG['pc_reps']}")


def row_rss(extra):
    name = "gather 1M zero-delay tasks: peak RSS"
    res = {"service": [], "service_base": [], "service_after": [], "raw": [], "raw_sleep0": [], "client_ms": [],
           "peak_in_flight": []}
    srv = None
    with Batch(name, []) as b:
        for _, order in rotations(["service", "raw"], CFG["rss_reps"]):
            for s in order:
                if s == "service":
                    srv = Server(extra)  # a fresh process: VmHWM is its peak since start
                    b.servers = [srv]
                    try:
                        base = srv.rss_kb()["VmRSS"]
                        run, client_ms = post_run(srv, "gather", {"count": 1_000_000, "delay_ms": 0})
                        m = srv.rss_kb()
                        res["service"].append(m["VmHWM"] / 1024)
                        res["service_base"].append(base / 1024)
                        res["service_after"].append(m["VmRSS"] / 1024)
                        res["client_ms"].append(client_ms)
                        res["peak_in_flight"].append(run["result"].get("peak_in_flight"))
                    finally:
                        srv.stop()
                else:
                    res["raw"].append(peer("raw", "gather-discard", 1_000_000)["maxrss_kb"] / 1024)
                    res["raw_sleep0"].append(peer("raw", "gather-discard-sleep0", 1_000_000)["maxrss_kb"] / 1024)
    sm = {x: summary(v) for x, v in res.items()}
    met = sm["service"]["max"] <= 150
    add_row(name, {"value": sm["service"], "unit": "MB peak RSS (VmHWM)"}, {"raw Swift discarding group": {"value": sm["raw"]},
             "raw, tasks await Task.sleep(0)": {"value": sm["raw_sleep0"]}},
            {"vs raw": round(sm["service"]["median"] / sm["raw"]["median"], 2)}, "<= 150 MB", met, b,
            note=f"fresh server; RSS at start {fmt_sum(sm['service_base'], ' MB')}, after the run "
                 f"{fmt_sum(sm['service_after'], ' MB')}; the run's peak_in_flight {fmt_sum(sm['peak_in_flight'])}; raw peer with "
                 f"Task.sleep(0) in each task {fmt_sum(sm['raw_sleep0'], ' MB')}; run took {fmt_sum(sm['client_ms'], ' ms')} over HTTP; "
                 f"x{CFG['rss_reps']}")


# ---- virtual time: simulated seconds per real second


def row_virtual(server, name, pattern, params, peer_args, check):
    """A `clock: virtual` run against the same program in asyncio on an event loop whose
    clock is virtual (peers/peer.py asyncio-virtual: asyncio's own scheduler, only time()
    and the selector's wait replaced), alternating. The figure is simulated seconds per real
    second: the run's duration_ms over the client's wall time (request sent to answer read);
    the server's own duration_ms / real_ms is in the notes."""
    res = {x: [] for x in ("service", "service_server", "asyncio_virtual", "simulated_s", "peer_simulated_s")}
    with Batch(name, [server]) as b:
        post_run(server, pattern, {**params, "count": 1000})  # warm-up
        for _, order in rotations(["service", "asyncio_virtual"], CFG["virtual_reps"]):
            for s in order:
                if s == "service":
                    run, client_ms = post_run(server, pattern, params)
                    check(run)
                    res["service"].append(run["duration_ms"] / client_ms)
                    res["service_server"].append(run["duration_ms"] / run["real_ms"])
                    res["simulated_s"].append(run["duration_ms"] / 1000)
                else:
                    out = peer("asyncio-virtual", *peer_args)
                    res["asyncio_virtual"].append(out["loop_ms"] / out["wall_ms"])
                    res["peer_simulated_s"].append(out["loop_ms"] / 1000)
    sm = {x: summary(v) for x, v in res.items()}
    ratio = round(sm["service"]["median"] / sm["asyncio_virtual"]["median"], 2)
    add_row(name, {"value": sm["service"], "unit": "simulated s per real s (client wall)",
                   "server_reported": sm["service_server"]},
            {"asyncio, virtual-clock loop": {"value": sm["asyncio_virtual"]}}, {"vs asyncio virtual loop": ratio},
            ">= 1.0x asyncio virtual loop", ratio >= 1.0, b,
            note=f"simulated {fmt_sum(sm['simulated_s'], ' s')} per run (asyncio: {fmt_sum(sm['peer_simulated_s'], ' s')}); "
                 f"server's own duration_ms / real_ms {fmt_sum(sm['service_server'])}; peer: asyncio's SelectorEventLoop "
                 f"with a virtual time() that jumps to the next timer when nothing is ready (peers/peer.py); "
                 f"x{CFG['virtual_reps']}")


def row_virtual_semaphore(server):
    n, k, d = 10000, 100, 10000

    def check(run):
        if run["result"]["wall_ratio"] != 1 or run["params"]["clock"] != "virtual":
            raise RuntimeError(f"virtual semaphore: wall_ratio {run['result']['wall_ratio']}, params {run['params']}")

    row_virtual(server, "virtual time: semaphore N=10,000, K=100, 10 s", "semaphore",
                {"count": n, "limit": k, "delay_ms": d, "clock": "virtual"}, ("semaphore", n, k, d), check)


def row_virtual_gather(server):
    n, d, jitter, seed = 100_000, 1000, 60_000, 42

    def check(run):
        if not run["checks_passed"] or run["params"]["clock"] != "virtual":
            raise RuntimeError(f"virtual gather: checks {run['checks']}")

    row_virtual(server, "virtual time: gather N=100,000, 1 s + jitter 0-60 s", "gather",
                {"count": n, "delay_ms": d, "jitter_ms": jitter, "seed": seed, "clock": "virtual"},
                ("gather-jitter", n, d, jitter, seed), check)


# ---- SSE: thousands of subscribers on one run, and a burst of connections


def sample_rss_kb(pid, stop, into):
    """Samples VmRSS every 50 ms until `stop` is set; keeps the largest."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        into[0] = max(into[0], int(line.split()[1]))
        except OSError:
            return
        stop.wait(0.05)


def sse_read(pid, port, path, started, subs, secs):
    """Reads `subs` streams of one run with reference/sse_client.c while sampling the server's
    CPU and RSS: the client's counts and percentiles, plus CPU s, wall s and RSS KB per subscriber."""
    import threading
    rss_before = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                rss_before = int(line.split()[1])
    peak, stop = [rss_before], threading.Event()
    sampler = threading.Thread(target=sample_rss_kb, args=(pid, stop, peak), daemon=True)
    sampler.start()
    cpu0 = proc_cpu_jiffies(pid)
    # The client is the only child reaped during the read (the server is reaped after it), so
    # the children's CPU grows by the client's own.
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    try:
        out = subprocess.run([SSE_BIN, str(port), path, str(subs), repr(started), str(secs + 30)],
                             check=True, capture_output=True, text=True, timeout=secs + 90).stdout
    finally:
        stop.set()
        sampler.join()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(out.strip().splitlines()[-1])
    r["wall_s"] = time.time() - t0
    r["cpu_s"] = (proc_cpu_jiffies(pid) - cpu0) / CLK
    r["client_cpu_s"] = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    r["rss_before_kb"], r["rss_peak_kb"] = rss_before, peak[0]
    r["kb_per_sub"] = (peak[0] - rss_before) / subs
    r["us_per_frame"] = r["cpu_s"] * 1e6 / max(1, r["delivered"])
    # Per subscriber and tick of the run (20 a second): the service and the peer send the same
    # ticks, but the service coalesces its `progress` events (one per 50 ms), so their frame
    # counts differ a little; this one compares like with like.
    r["us_per_sub_tick"] = r["cpu_s"] * 1e6 / (subs * secs * 20)
    r["client_us_per_sub_tick"] = r["client_cpu_s"] * 1e6 / (subs * secs * 20)
    # Server and client together, in cores over the read: how much of the machine the row uses
    # (on 2 cores, near 2 means every tick queues behind the last).
    r["machine_cores"] = (r["cpu_s"] + r["client_cpu_s"]) / r["wall_s"]
    return r


def ratio_to(peer, ours, usable):
    """peer / ours, rounded, when both figures are usable (> 0 and the peer's run complete):
    above 1, the service does better (less latency, less CPU). None otherwise."""
    if not usable or not peer or not ours or peer <= 0 or ours <= 0:
        return None
    return round(peer / ours, 2)


SSE_PEER_LABELS = {
    1: ("C broadcaster (reference/sse_server.c)", "raw peer, the C broadcaster with the same client"),
    2: ("C broadcaster, two sending threads (not a goal)", "the same sending from two threads (not a goal)"),
}


def sse_peer_summary(p, subs, label, error):
    """A C broadcaster's read (None if it failed with `error`): its entry among the row's peers
    (None without a read), whether it delivered every event to every subscriber, and its note."""
    if p is None:
        return None, False, f"{label}: failed ({error})"
    ok = (p["complete"] == subs and p["finished"] == subs and p["errors"] == 0 and p["refused"] == 0
          and p["samples"] > 0)
    entry = {"value": summary([p["p99_ms"]]), "unit": "p99 latency ms (live events)", "p50_ms": p["p50_ms"],
             "all_delivered": ok, "events_delivered": p["delivered"], "server_cpu_s": round(p["cpu_s"], 2),
             "cpu_us_per_frame": round(p["us_per_frame"], 2),
             "cpu_us_per_subscriber_tick": round(p["us_per_sub_tick"], 2),
             "client_cpu_us_per_subscriber_tick": round(p["client_us_per_sub_tick"], 2),
             "server_and_client_cores": round(p["machine_cores"], 2), "connect_s": p["connect_s"]}
    note = (f"{label}: {'all delivered' if ok else 'NOT all delivered'} ({p['delivered']:,} frames), "
            f"p50 {fmt(p['p50_ms'])} p99 {fmt(p['p99_ms'])} ms, {p['us_per_frame']:.2f} us per frame, "
            f"{p['us_per_sub_tick']:.2f} us per subscriber-tick ({p['cpu_s'] / p['wall_s']:.2f} cores), "
            f"client {p['client_us_per_sub_tick']:.2f} us per subscriber-tick, server and client "
            f"{p['machine_cores']:.2f} cores")
    return entry, ok, note


def row_sse(_shared_server):
    """A periodic run at 20 events/s with SUBSCRIBERS streams on it, read by the C client
    (reference/sse_client.c, one epoll loop): latency = arrival - (started_at + t_ms). A fresh
    server with its default limits (sized from the open-file limit), so the RSS per subscriber
    is the streams' own. Then, in the same batch and with the same client, the raw peer
    (reference/sse_server.c: one C thread, one send() per subscriber per tick, ticks it fell
    behind on sent together): what this machine allows at all. A failure of the peer costs
    only the peer's figures. Then the same broadcaster sending from two threads (not a goal):
    whether spreading the sends over both cores helps when the client needs them too."""
    subs, secs = CFG["sse_subscribers"], CFG["sse_secs"]
    name = f"{subs:,} SSE subscribers on one run, 20 events/s"
    goal = "all delivered; p99 <= 100 ms; connected <= 2 s; <= 20 KB RSS/subscriber"
    server = Server(log_level="notice")
    # By sending threads: the peer's read (missing if it failed) and why it failed.
    peer_reads, peer_errors, peers_started = {}, {}, []
    try:
        with Batch(name, [server]) as b:
            status, run = http_json(server.url("/patterns/periodic/runs"),
                                    {"interval_ms": 50, "duration_ms": secs * 1000, "work_ms": 0})
            started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")).timestamp()
            r = sse_read(server.pid, server.port, f"/runs/{run['id']}/events", started, subs, secs)
            server.stop()
            for threads in SSE_PEER_LABELS:
                peer = None
                try:
                    peer = SSEPeer(secs, threads)
                    peers_started.append(peer)
                    b.servers = [server, *peers_started]
                    peer_reads[threads] = sse_read(peer.pid, peer.port, "/events", peer.started, subs, secs)
                except Exception as e:  # the service's figures stand without the peer's
                    peer_errors[threads] = f"{type(e).__name__}: {e}"
                    log(f"bench: {name}: {SSE_PEER_LABELS[threads][1]} failed: {peer_errors[threads]}")
                finally:
                    if peer:
                        peer.stop()
    finally:
        server.stop()
        for peer in peers_started:
            peer.stop()
    cpu, wall, kb_per_sub, us_per_frame = r["cpu_s"], r["wall_s"], r["kb_per_sub"], r["us_per_frame"]
    all_ok = r["complete"] == subs and r["errors"] == 0 and r["refused"] == 0 and r["finished"] == subs
    met = all_ok and r["samples"] > 0 and r["p99_ms"] <= 100 and r["connect_s"] <= 2 and kb_per_sub <= 20
    summaries = {threads: sse_peer_summary(peer_reads.get(threads), subs, label, peer_errors.get(threads))
                 for threads, (_, label) in SSE_PEER_LABELS.items()}
    peers = {SSE_PEER_LABELS[threads][0]: entry for threads, (entry, _, _) in summaries.items() if entry}
    peer_notes = [note for _, _, note in summaries.values()]
    # The goal's ratios are to the one-thread peer's figures.
    p, peer_ok = peer_reads.get(1), summaries[1][1]
    ours_ok = all_ok and r["samples"] > 0
    add_row(name, {"value": summary([r["p99_ms"]]), "unit": "p99 latency ms (live events)",
                   "p50_ms": r["p50_ms"], "max_ms": r["max_ms"], "first_subscriber_p99_ms": r["first_p99_ms"],
                   "events_delivered": r["delivered"], "expected": r["max_id"] * subs, "server_cpu_s": round(cpu, 2),
                   "server_cpu_cores": round(cpu / wall, 2), "cpu_us_per_frame": round(us_per_frame, 2),
                   "cpu_us_per_subscriber_tick": round(r["us_per_sub_tick"], 2),
                   "client_cpu_us_per_subscriber_tick": round(r["client_us_per_sub_tick"], 2),
                   "server_and_client_cores": round(r["machine_cores"], 2),
                   "connect_s": r["connect_s"], "rss_kb_per_subscriber": round(kb_per_sub, 1)},
            peers,
            {"vs C p99": ratio_to(p and p["p99_ms"], r["p99_ms"], peer_ok and ours_ok),
             "vs C CPU per subscriber-tick": ratio_to(p and p["us_per_sub_tick"], r["us_per_sub_tick"], peer_ok and ours_ok)},
            goal, met, b,
            note=f"{r['complete']:,}/{subs:,} subscribers got all {r['max_id']} events ({r['delivered']:,} frames); "
                 f"live-event latency p50 {fmt(r['p50_ms'])} p99 {fmt(r['p99_ms'])} max {fmt(r['max_ms'])} ms over "
                 f"{r['samples']:,} samples (first subscriber to get each event: p99 {fmt(r['first_p99_ms'])} ms); "
                 f"all connected in {fmt(r['connect_s'])} s; server CPU {cpu:.2f}s over {wall:.1f}s "
                 f"({cpu / wall:.2f} cores) = {us_per_frame:.2f} us per delivered frame (target <= 2 us), "
                 f"{r['us_per_sub_tick']:.2f} us per subscriber-tick; client {r['client_us_per_sub_tick']:.2f} us "
                 f"per subscriber-tick, server and client {r['machine_cores']:.2f} cores; "
                 f"RSS {r['rss_before_kb'] / 1024:.0f} -> {r['rss_peak_kb'] / 1024:.0f} MB = {kb_per_sub:.1f} KB per subscriber; "
                 f"{'; '.join(peer_notes)}; ratios are C's figure over the service's (above 1: the service does better); "
                 f"client: reference/sse_client.c (one epoll loop) on the same 2 cores"
                 + (f"; {r['errors']} client errors" if r["errors"] else "")
                 + (f"; {r['refused']} refused" if r["refused"] else ""))


def row_accept(_shared_server):
    """CONNECTIONS connections opened at once (reference/accept_burst.c), each asking
    GET /healthz once: all accepted and answered? how fast? Against the C hello server
    (libmicrohttpd's own accept) in the same batch."""
    n = CFG["accept_connections"]
    name = f"{n:,} connections opened at once"
    goal = "all answered within 2 s"
    ours, hello = [], []
    with Batch(name, []) as b:
        for _, order in rotations(["lab", "hello"], CFG["accept_reps"]):
            for system in order:
                target = Server(log_level="notice") if system == "lab" else Hello()
                b.servers = [target]
                try:
                    out = subprocess.run([ACCEPT_BIN, str(target.port), "/healthz",
                                          str(n), "10"], check=True, capture_output=True, text=True, timeout=60).stdout
                finally:
                    target.stop()
                (ours if system == "lab" else hello).append(json.loads(out.strip().splitlines()[-1]))
    answered = [r["ok"] + r["other_status"] for r in ours]
    met = all(r["ok"] == n and r["seconds"] <= 2 for r in ours)
    add_row(name, {"value": summary([r["seconds"] for r in ours]), "unit": "s until the last answer",
                   "per_second": summary([r["per_second"] for r in ours]),
                   "hello_seconds": summary([r["seconds"] for r in hello])},
            {}, {}, goal, met, b,
            note=f"answered {min(answered):,}-{max(answered):,} of {n:,} (200: {min(r['ok'] for r in ours):,}+); "
                 f"last answer after {fmt(summary([r['seconds'] for r in ours])['median'])} s = "
                 f"{fmt(summary([r['per_second'] for r in ours])['median'])} connections/s (median of {len(ours)}); "
                 f"plain C libmicrohttpd, its own accept: {fmt(summary([r['seconds'] for r in hello])['median'])} s; "
                 f"client: reference/accept_burst.c")


def post_gather_script():
    """The wrk script the run-throughput rows share: POST a 100 ms gather of one task."""
    script = os.path.join(OUT, "post-gather.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.body = \'{"count":1,"delay_ms":100}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    return script


def row_clients(server):
    """wrk -c256, each connection POSTing a 1-task gather of 100 ms with ?wait=60: runs/s over
    the ideal 2,560. The raw peer, alternating with the service in the same batch: the C hello
    server (reference/hello.c), which answers any POST 100 ms after it arrived and does nothing
    else, under the same wrk: what this machine and this client allow at all. A failure of the
    peer costs only the peer's figures."""
    name = "256 clients each waiting on a 100 ms run"
    goal = ">= 0.97 of ideal 2,560 runs/s"
    script = post_gather_script()
    path = "/patterns/gather/runs?wait=60"
    res = {"service": [], "c": []}
    hello, peer_error = None, None
    try:
        hello = Hello()
    except Exception as e:
        peer_error = f"{type(e).__name__}: {e}"
    systems = ["service"] + (["c"] if hello else [])
    urls = {"service": server.url(path), "c": f"http://127.0.0.1:{hello.port}{path}" if hello else None}
    try:
        with Batch(name, [server] + ([hello] if hello else [])) as b:
            for system in systems:  # warm-up
                wrk(urls[system], 256, 1, script=script)
            for _, order in rotations(systems, CFG["clients_reps"]):
                for system in order:
                    try:
                        res[system].append(wrk(urls[system], 256, CFG["clients_secs"], script=script))
                    except Exception as e:
                        if system == "service":
                            raise
                        peer_error = f"{type(e).__name__}: {e}"
    finally:
        if hello:
            hello.stop()
    ours, c = res["service"], res["c"]
    rps = summary([r["rps"] / 2560 for r in ours])
    bad = sum(r["non2xx"] for r in ours)
    met = rps["median"] >= 0.97 and bad == 0
    c_bad = sum(r["non2xx"] for r in c)
    c_ok = bool(c) and c_bad == 0 and peer_error is None
    peers, peer_note = {}, f"raw peer: failed ({peer_error})"
    if c:
        c_rps = summary([r["rps"] / 2560 for r in c])
        peers["C, answers 100 ms later (reference/hello.c)"] = {
            "value": c_rps, "unit": "fraction of ideal 2,560 runs/s",
            "req_per_s": summary([r["rps"] for r in c]), "p99_ms": summary([r["p99_ms"] for r in c]), "non2xx": c_bad}
        peer_note = (f"raw peer (C, a POST answered 100 ms after it arrived, nothing else): "
                     f"{fmt_sum(c_rps)} of ideal, {fmt_sum(summary([r['rps'] for r in c]))} req/s, p50 "
                     f"{fmt_sum(summary([r['p50_ms'] for r in c]), ' ms')} p99 {fmt_sum(summary([r['p99_ms'] for r in c]), ' ms')}"
                     + (f", {c_bad} non-2xx" if c_bad else "") + (f", failed ({peer_error})" if peer_error else ""))
    add_row(name, {"value": rps, "unit": "fraction of ideal 2,560 runs/s",
                   "runs_per_s": summary([r["rps"] for r in ours]), "p99_ms": summary([r["p99_ms"] for r in ours])},
            peers,
            {"vs C": round(rps["median"] / peers["C, answers 100 ms later (reference/hello.c)"]["value"]["median"], 3)
             if c_ok and peers["C, answers 100 ms later (reference/hello.c)"]["value"]["median"] > 0 else None},
            goal, met, b,
            note=f"runs/s {fmt_sum(summary([r['rps'] for r in ours]))}; latency p50 "
                 f"{fmt_sum(summary([r['p50_ms'] for r in ours]), ' ms')} p99 {fmt_sum(summary([r['p99_ms'] for r in ours]), ' ms')}; "
                 f"{peer_note}; "
                 f"wrk -c256 POST gather count=1 delay 100 ms ?wait=60, {CFG['clients_secs']}s x{CFG['clients_reps']} each"
                 + (f"; {bad} non-2xx" if bad else "") + (f"; socket errors {ours[0]['socket_errors']}" if ours[0]['socket_errors'] else ""),
            detail={"wrk": res})


# ---- several instances on PostgreSQL


class Postgres:
    """A throwaway PostgreSQL 15 server for the PostgreSQL rows (scripts/throwaway-postgres.sh):
    never the machine's own. Commits as the SQLite store does (WAL written, not flushed at each
    commit: synchronous_commit=off against SQLite's synchronous=NORMAL), fsync kept on."""

    SCRIPT = os.path.join(ROOT, "scripts", "throwaway-postgres.sh")

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="concurrency-lab-pg-bench.", dir="/tmp")
        env = dict(os.environ, PG_OPTIONS="-c synchronous_commit=off")
        self.url = subprocess.run([self.SCRIPT, "start", self.dir], check=True, capture_output=True, text=True,
                                  env=env, timeout=120).stdout.strip()
        self.databases = 0

    def database(self):
        """A fresh database on the server; its URL."""
        self.databases += 1
        name = f"bench_{os.getpid()}_{self.databases}"
        self.sql(self.url, f"CREATE DATABASE {name}")
        return self.url.replace("/postgres?", f"/{name}?")

    @staticmethod
    def sql(url, statement):
        return subprocess.run(["psql", url, "-tAqc", statement], check=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def stop(self):
        subprocess.run([self.SCRIPT, "stop", self.dir], check=False, timeout=60)
        subprocess.run(["rm", "-rf", self.dir], check=False)


def percentile_fields(r):
    return {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "max_ms": r["max_ms"], "delivered": r["delivered"],
            "complete": r["complete"], "samples": r["samples"], "connect_s": r["connect_s"]}


def row_pg_stream(_shared_server):
    """One periodic run on instance A (20 events/s), SUBS subscribers on A and SUBS on B, both
    instances on one PostgreSQL database, read by two reference/sse_client.c processes started
    together: live-event latency on the owner against another instance."""
    subs, secs = 500, CFG["sse_secs"]
    name = f"cross-instance SSE: {subs} subscribers on A (owner) and {subs} on B, 20 events/s"
    goal = "all delivered; B's p99 <= A's p99 + 25 ms"
    pg = Postgres()
    a = b = None
    try:
        url = pg.database()
        # The 500 streams opened on B at once wait, in flight, for B's first lookup of the run
        # (three queries; later ones take the followed log at once): above serve's default
        # in-flight bound of 256 some would get the 503 (Retry-After: 1) that a browser retries.
        raised = ["--max-in-flight", "2048"]
        a = Server(raised, log_level="notice", db=url)
        b = Server(raised, log_level="notice", db=url)
        with Batch(name, [a, b]) as batch:
            _, run = http_json(a.url("/patterns/periodic/runs"),
                               {"interval_ms": 50, "duration_ms": secs * 1000, "work_ms": 0})
            started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")).timestamp()
            clients = {key: subprocess.Popen([SSE_BIN, str(server.port), f"/runs/{run['id']}/events", str(subs),
                                              repr(started), str(secs + 30)], stdout=subprocess.PIPE, text=True)
                       for key, server in (("a", a), ("b", b))}
            results = {}
            for key, client in clients.items():
                out, _ = client.communicate(timeout=secs + 90)
                results[key] = json.loads(out.strip().splitlines()[-1])
    finally:
        for server in (a, b):
            if server:
                server.stop()
        pg.stop()
    ra, rb = results["a"], results["b"]
    complete = all(r["complete"] == subs and r["errors"] == 0 and r["refused"] == 0 for r in (ra, rb))
    met = complete and rb["p99_ms"] <= ra["p99_ms"] + 25
    add_row(name, {"value": summary([rb["p99_ms"]]), "unit": "p99 latency ms on B (not the owner)",
                   "a": percentile_fields(ra), "b": percentile_fields(rb)},
            {}, {"B p99 - A p99 (ms)": round(rb["p99_ms"] - ra["p99_ms"], 1)}, goal, met, batch,
            note=f"A (owner): p50 {fmt(ra['p50_ms'])} p99 {fmt(ra['p99_ms'])} max {fmt(ra['max_ms'])} ms, "
                 f"{ra['complete']}/{subs} complete; B (through PostgreSQL: batch commit, NOTIFY, one query per "
                 f"notification, its own fan-out): p50 {fmt(rb['p50_ms'])} p99 {fmt(rb['p99_ms'])} max "
                 f"{fmt(rb['max_ms'])} ms, {rb['complete']}/{subs} complete; {secs} s periodic run, interval 50 ms; "
                 f"two reference/sse_client.c processes, both instances and PostgreSQL on the same 2 cores")


def stored_runs(kind, location):
    if kind == "postgres":
        return int(Postgres.sql(location, "SELECT count(*) FROM runs WHERE status = 'succeeded'") or 0)
    import sqlite3
    try:
        with sqlite3.connect(f"file:{location}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT count(*) FROM run WHERE status = 'succeeded'").fetchone()[0]
    except sqlite3.Error:
        return 0


def settled_count(kind, location, quiet=1.0, limit=15):
    """The stored-run count once it has not changed for `quiet` seconds (writes in flight landed)."""
    last, since, start = stored_runs(kind, location), time.time(), time.time()
    while time.time() - since < quiet and time.time() - start < limit:
        time.sleep(0.05)
        now = stored_runs(kind, location)
        if now != last:
            last, since = now, time.time()
    return last, since


def stored_throughput(kind, location, extra, script, secs):
    """wrk for `secs` against a fresh server on `location`; the runs it answered per second, and
    the runs that reached the store per second (until the last one was written). Runs wrk left
    waiting when it stopped end and are stored too: stored >= answered when nothing is lost."""
    server = Server(extra + ["--keep-runs", "100000000"], db=location)
    try:
        wrk(server.url("/patterns/gather/runs?wait=60"), 256, 1, script=script)  # warm-up
        before, _ = settled_count(kind, location)
        t0 = time.time()
        result = wrk(server.url("/patterns/gather/runs?wait=60"), 256, secs, script=script)
        answered = result["requests"] - result["non2xx"]
        last, last_change = settled_count(kind, location)
        stored = last - before
        return {"answered_per_s": result["rps"], "stored_per_s": stored / max(last_change - t0, 1e-3),
                "stored": stored, "answered": answered, "p99_ms": result["p99_ms"], "cpu_s": None}
    finally:
        server.stop()


def row_pg_throughput(_shared_server):
    name = "finished runs/s into PostgreSQL vs SQLite, 256 clients x 100 ms runs"
    goal = "every answered run stored; report the ratio"
    script = post_gather_script()
    extra = ["--max-concurrent-runs", "1024", "--max-in-flight", "2048", "--log-level", "notice"]
    pg = Postgres()
    folder = tempfile.mkdtemp(prefix="bench-sqlite-")
    res = {"postgres": [], "sqlite": []}
    try:
        with Batch(name, []) as batch:
            for rep, order in rotations(["postgres", "sqlite"], CFG["pg_reps"]):
                for kind in order:
                    location = pg.database() if kind == "postgres" else os.path.join(folder, f"runs-{rep}.sqlite")
                    res[kind].append(stored_throughput(kind, location, extra, script, CFG["clients_secs"]))
    finally:
        pg.stop()
        subprocess.run(["rm", "-rf", folder], check=False)
    sm = {kind: {key: summary([r[key] for r in runs]) for key in ("answered_per_s", "stored_per_s", "p99_ms")}
          for kind, runs in res.items()}
    lost = {kind: sum(max(0, r["answered"] - r["stored"]) for r in runs) for kind, runs in res.items()}
    ratio = sm["postgres"]["stored_per_s"]["median"] / sm["sqlite"]["stored_per_s"]["median"]
    met = lost["postgres"] == 0 and lost["sqlite"] == 0
    add_row(name, {"value": sm["postgres"]["stored_per_s"], "unit": "runs/s stored (PostgreSQL)",
                   "answered_per_s": sm["postgres"]["answered_per_s"]},
            {"SQLite": {"value": sm["sqlite"]["stored_per_s"], "answered_per_s": sm["sqlite"]["answered_per_s"]}},
            {"PostgreSQL vs SQLite (stored/s)": round(ratio, 3)}, goal, met, batch,
            note=f"stored/s = runs in the store / time from the load's start to the last write; PostgreSQL "
                 f"answered {fmt_sum(sm['postgres']['answered_per_s'])} runs/s (p99 {fmt_sum(sm['postgres']['p99_ms'], ' ms')}), "
                 f"SQLite {fmt_sum(sm['sqlite']['answered_per_s'])} (p99 {fmt_sum(sm['sqlite']['p99_ms'], ' ms')}); "
                 f"answered but not stored: PostgreSQL {lost['postgres']}, SQLite {lost['sqlite']}; wrk -c256 POST gather "
                 f"count=1 delay 100 ms ?wait=60, {CFG['clients_secs']}s x{CFG['pg_reps']}, a fresh server and "
                 f"database each time; PostgreSQL synchronous_commit=off, SQLite WAL synchronous=NORMAL",
            detail=res)


class Nginx:
    """nginx with deploy/nginx.conf, its listening port and upstream ports rewritten, in a
    temporary prefix; stopped by its PID."""

    def __init__(self, upstreams):
        self.dir = tempfile.mkdtemp(prefix="bench-nginx-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        with open(os.path.join(ROOT, "deploy", "nginx.conf")) as f:
            text = f.read().replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.port};")
        options = re.search(r"^\s*server 127\.0\.0\.1:\d+ (.*);$", text, flags=re.M).group(1)
        text = re.sub(r"^\s*server 127\.0\.0\.1:\d+ .*;\n", "", text, flags=re.M)
        servers = "".join(f"        server 127.0.0.1:{port} {options};\n" for port in upstreams)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text.replace("        keepalive", servers + "        keepalive", 1))
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf, "-e", "stderr", "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def cpu_jiffies(self):
        """The master's and its workers' CPU."""
        children = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout.split()
        return proc_cpu_jiffies(self.pid) + sum(proc_cpu_jiffies(int(child)) for child in children)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        subprocess.run(["rm", "-rf", self.dir], check=False)


def postgres_cpu_jiffies(pg):
    """The PostgreSQL server's CPU: the postmaster and its children (the connections are pooled,
    so the backends live through the load)."""
    with open(os.path.join(pg.dir, "data", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return proc_cpu_jiffies(postmaster) + sum(proc_cpu_jiffies(int(child)) for child in children)


def cluster_load(pg, kind, extra, script, secs):
    """wrk for `secs` through nginx over three instances, or at one instance direct, on a fresh
    database; runs answered per second and CPU per run (instances, nginx and PostgreSQL)."""
    url = pg.database()
    servers = [Server(extra, db=url) for _ in range(3 if kind == "cluster" else 1)]
    nginx = Nginx([server.port for server in servers]) if kind == "cluster" else None
    target = (f"http://127.0.0.1:{nginx.port}" if nginx else f"http://127.0.0.1:{servers[0].port}") + \
        "/patterns/gather/runs?wait=60"
    try:
        def cpu():
            return (sum(proc_cpu_jiffies(server.pid) for server in servers) + (nginx.cpu_jiffies() if nginx else 0)
                    + postgres_cpu_jiffies(pg))
        wrk(target, 256, 1, script=script)  # warm-up
        cpu0 = cpu()
        result = wrk(target, 256, secs, script=script)
        runs = result["requests"] - result["non2xx"]
        return {"runs_per_s": result["rps"], "cpu_ms_per_run": (cpu() - cpu0) / CLK * 1000 / max(runs, 1),
                "p99_ms": result["p99_ms"], "non2xx": result["non2xx"]}
    finally:
        if nginx:
            nginx.stop()
        for server in servers:
            server.stop()


def row_pg_cluster(_shared_server):
    name = "runs/s through nginx over 3 instances vs 1 instance direct, PostgreSQL, 256 clients x 100 ms runs"
    goal = "report the ratio and CPU per run"
    script = post_gather_script()
    extra = ["--max-concurrent-runs", "1024", "--max-in-flight", "2048", "--log-level", "notice",
             "--keep-runs", "100000000"]
    pg = Postgres()
    res = {"cluster": [], "single": []}
    try:
        with Batch(name, []) as batch:
            for _, order in rotations(["cluster", "single"], CFG["pg_reps"]):
                for kind in order:
                    res[kind].append(cluster_load(pg, kind, extra, script, CFG["clients_secs"]))
    finally:
        pg.stop()
    sm = {kind: {key: summary([r[key] for r in runs]) for key in ("runs_per_s", "cpu_ms_per_run", "p99_ms")}
          for kind, runs in res.items()}
    bad = sum(r["non2xx"] for runs in res.values() for r in runs)
    ratio = sm["cluster"]["runs_per_s"]["median"] / sm["single"]["runs_per_s"]["median"]
    add_row(name, {"value": sm["cluster"]["runs_per_s"], "unit": "runs/s through nginx (3 instances)",
                   "cpu_ms_per_run": sm["cluster"]["cpu_ms_per_run"]},
            {"1 instance direct": {"value": sm["single"]["runs_per_s"], "cpu_ms_per_run": sm["single"]["cpu_ms_per_run"]}},
            {"3 via nginx vs 1 direct (runs/s)": round(ratio, 3)}, goal, bad == 0, batch,
            note=f"CPU per run (instances + nginx + PostgreSQL): 3 via nginx {fmt_sum(sm['cluster']['cpu_ms_per_run'], ' ms')}, "
                 f"1 direct {fmt_sum(sm['single']['cpu_ms_per_run'], ' ms')}; p99 {fmt_sum(sm['cluster']['p99_ms'], ' ms')} "
                 f"vs {fmt_sum(sm['single']['p99_ms'], ' ms')}; wrk -c256 POST gather count=1 delay 100 ms ?wait=60, "
                 f"{CFG['clients_secs']}s x{CFG['pg_reps']}, a fresh database each time; everything on the same "
                 f"{CORES} cores, so three instances share what one had" + (f"; {bad} non-2xx" if bad else ""),
            detail=res)


# ---------------------------------------------------------------- table


def print_table():
    head = ["benchmark", "service", "peers", "ratio", "goal", "met", "load / disturbed"]
    lines = []
    for r in ROWS:
        svc = r["service"]
        svc_s = f"{fmt_sum(svc['value'])} {svc['unit']}" if svc and svc.get("value") else (r["note"] if not svc else "-")
        peers = "; ".join(f"{k} {fmt_sum(v['value'])}" for k, v in r["peers"].items())
        ratios = ", ".join(f"{k} {v}" for k, v in r["ratios"].items() if v is not None)
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        bt = r["batch"]
        load = f"{bt['loadavg_before']} / {'DISTURBED ' + str(bt['foreign_cpu_cores']) + ' cores' if bt['disturbed'] else 'quiet'}" if bt else "-"
        lines.append([r["benchmark"], svc_s, peers or "-", ratios or "-", r["goal"], met, load])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for l in lines:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(l, widths)) + " |")
    print("\n".join(out))
    print()
    for r in ROWS:
        if r["note"]:
            print(f"- {r['benchmark']}: {r['note']}")


def main():
    global ROW_FAILED
    t_start = time.time()
    build()
    # The clients of the SSE and accept rows open thousands of sockets: take the hard limit,
    # which the servers inherit (serve raises its own soft limit to the hard one anyway).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    extra = ["--max-concurrent-runs", "1024", "--max-in-flight", "2048", "--max-count", "1000000",
             "--max-gather-count", "1000000"]
    # BENCH_SERVE_ARGS="--worker-scheduling batch" adds serve flags to every service instance
    # the rows start: to compare a setting's effect in the bench's own harness.
    extra += os.environ.get("BENCH_SERVE_ARGS", "").split()
    rows = [
        ("health", lambda s: row_health(s, extra), "GET /healthz, wrk 64 connections", ">= 0.9x C req/s; p99 <= 5 ms"),
        ("gather10k", lambda s: row_gather(s, 10_000, ">= 0.95x raw Swift; >= 1.3x asyncio", {"raw": 0.95, "asyncio": 1.3}),
         "gather N=10,000, 100 ms", ">= 0.95x raw Swift; >= 1.3x asyncio"),
        ("gather100k", lambda s: row_gather(s, 100_000, ">= 3x asyncio", {"asyncio": 3.0}),
         "gather N=100,000, 100 ms", ">= 3x asyncio"),
        ("semaphore", row_semaphore, "semaphore K=100, N=10,000, 10 ms", "<= 1.03 and within 0.01 of raw Swift"),
        ("pc", row_pc, "producer-consumer 1M items, maxsize 100, 1P/4C", ">= 1.0x uvloop"),
        ("sse", row_sse, f"{CFG['sse_subscribers']:,} SSE subscribers on one run, 20 events/s",
         "all delivered; p99 <= 100 ms; connected <= 2 s; <= 20 KB RSS/subscriber"),
        ("accept", row_accept, f"{CFG['accept_connections']:,} connections opened at once", "all answered within 2 s"),
        ("clients", row_clients, "256 clients each waiting on a 100 ms run", ">= 0.97 of ideal 2,560 runs/s"),
        ("virtual-semaphore", row_virtual_semaphore, "virtual time: semaphore N=10,000, K=100, 10 s",
         ">= 1.0x asyncio virtual loop"),
        ("virtual-gather", row_virtual_gather, "virtual time: gather N=100,000, 1 s + jitter 0-60 s",
         ">= 1.0x asyncio virtual loop"),
        ("pg_stream", row_pg_stream, "cross-instance SSE: 500 subscribers on A (owner) and 500 on B, 20 events/s",
         "all delivered; B's p99 <= A's p99 + 25 ms"),
        ("pg_runs", row_pg_throughput, "finished runs/s into PostgreSQL vs SQLite, 256 clients x 100 ms runs",
         "every answered run stored; report the ratio"),
        ("pg_cluster", row_pg_cluster,
         "runs/s through nginx over 3 instances vs 1 instance direct, PostgreSQL, 256 clients x 100 ms runs",
         "report the ratio and CPU per run"),
    ]
    # BENCH_ROWS=sse,clients runs only those rows (keys above, and "rss"): for profiling one.
    only = set(filter(None, os.environ.get("BENCH_ROWS", "").split(",")))
    if only - {key for key, *_ in rows} - {"rss"}:
        sys.exit(f"BENCH_ROWS: unknown rows {sorted(only - {key for key, *_ in rows} - {'rss'})}")
    rows = [row for row in rows if not only or row[0] in only]
    server = Server(extra)
    try:
        for key, fn, name, goal in rows:
            try:
                fn(server)
            except Exception as e:  # a failed row says so, never a number
                ROW_FAILED = True  # every server's log is kept from here on
                not_measured(name, goal, f"{type(e).__name__}: {e}")
                if server.proc.poll() is not None:
                    log("bench: the server exited; restarting it")
                    server.stop()  # says where its log is
                    server = Server(extra)
    finally:
        server.stop()
    try:
        if not only or "rss" in only:
            row_rss(extra)
    except Exception as e:
        not_measured("gather 1M zero-delay tasks: peak RSS", "<= 150 MB", f"{type(e).__name__}: {e}")

    print()
    print(f"Concurrency Lab bench ({MODE}), {datetime.now().isoformat(timespec='seconds')}, {CORES} cores, "
          f"total {time.time() - t_start:.0f}s")
    print_table()
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    path = os.path.join(BENCH, "results", "latest.json")
    with open(path, "w") as f:
        json.dump({"mode": MODE, "date": datetime.now().isoformat(timespec="seconds"), "cores": CORES,
                   "config": CFG, "seconds": round(time.time() - t_start, 1), "rows": ROWS}, f, indent=2)
    print(f"\nwrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
