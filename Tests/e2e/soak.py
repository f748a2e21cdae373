"""Memory soak: thousands of runs and event streams (many cut off mid-stream) for a few
minutes against one server, sampling its RSS (/proc/PID/status VmRSS) every few seconds.

Prints the RSS curve and exits non-zero when RSS keeps growing over the last third of the
soak beyond a margin (the fitted growth over the last third > max(--margin-mib, 10 %)), or
when a request got a 5xx other than a documented 429/503, or the server died.

Standard library only. Usage: soak.py --binary PATH [--seconds 180] [--workers 8]
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, name, amount=1):
        with self.lock:
            self.values[name] = self.values.get(name, 0) + amount


def request(port, method, path, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def stream(port, path, method="GET", body=b"", cut_after=None, timeout=30):
    """Reads an event stream; with `cut_after`, disconnects after that many frames."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        data = b""
        frames = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            frames = data.count(b"\nevent:")
            if cut_after is not None and frames >= cut_after:
                return "cut", frames
            if b"event: run.finished" in data:
                return "finished", frames
            if len(data) > 4 << 20:
                data = data[-4096:]
        status_line = data.split(b"\r\n", 1)[0]
        return f"ended {status_line[:40]!r}", frames
    finally:
        sock.close()


def worker(port, stop, counters, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        choice = rng.random()
        try:
            if choice < 0.35:
                status, _ = request(port, "POST", "/patterns/gather/runs?wait=20",
                                    {"count": rng.randint(1, 50), "delay_ms": rng.randint(0, 20)})
                counters.add(f"run {status}")
            elif choice < 0.55:
                params = json.dumps({"count": rng.randint(2, 30), "limit": 3, "delay_ms": 5}).encode()
                outcome, _ = stream(port, "/patterns/semaphore/runs", "POST", params,
                                    cut_after=rng.choice([None, 2, 5]))
                counters.add(f"launch+stream {outcome.split()[0]}")
            elif choice < 0.75:
                status, body = request(port, "GET", "/runs?limit=20")
                counters.add(f"list {status}")
                if status == 200:
                    runs = json.loads(body)["runs"]
                    if runs:
                        run = rng.choice(runs)
                        outcome, _ = stream(port, f"/runs/{run['id']}/events", cut_after=rng.choice([None, 1, 3]))
                        counters.add(f"replay {outcome.split()[0]}")
            elif choice < 0.85:
                status, body = request(port, "POST", "/patterns/gather/runs", {"count": 3, "delay_ms": 60000})
                counters.add(f"long run {status}")
                if status == 201:
                    run_id = json.loads(body)["id"]
                    outcome, _ = stream(port, f"/runs/{run_id}/events", cut_after=1)
                    status, _ = request(port, "DELETE", f"/runs/{run_id}")
                    counters.add(f"cancel {status}")
            else:
                pattern = rng.choice(["producer-consumer", "event", "lock", "first-completed", "resource-scope"])
                status, _ = request(port, "POST", f"/patterns/{pattern}/runs?wait=20", {})
                counters.add(f"{pattern} {status}")
        except (OSError, http.client.HTTPException) as error:
            counters.add(f"error {type(error).__name__}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 180)))
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--sample-seconds", type=float, default=5)
    parser.add_argument("--margin-mib", type=float, default=16)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="lab-soak-"))
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([args.binary, "serve", "--host", "127.0.0.1", "--port", "0",
                                   "--db", str(folder / "soak.sqlite"), "--keep-runs", "2000"],
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and server.poll() is None:
            match = LISTENING.search(log_path.read_text(errors="replace"))
            port = int(match.group(1)) if match else None
            time.sleep(0.1)
        if port is None:
            print(f"soak: the server did not start: {log_path.read_text()[-2000:]}", file=sys.stderr)
            return 2

        stop = threading.Event()
        counters = Counters()
        threads = [threading.Thread(target=worker, args=(port, stop, counters, i), daemon=True)
                   for i in range(args.workers)]
        for thread in threads:
            thread.start()
        samples = []
        started = time.monotonic()
        print(f"soak: {args.seconds:.0f} s, {args.workers} workers, server PID {server.pid} on port {port}")
        print(f"{'t (s)':>7} {'RSS (MiB)':>10}  requests so far")
        while time.monotonic() - started < args.seconds and server.poll() is None:
            time.sleep(min(args.sample_seconds, max(0.0, args.seconds - (time.monotonic() - started))))
            elapsed = time.monotonic() - started
            rss = rss_kib(server.pid) / 1024
            samples.append((elapsed, rss))
            with counters.lock:
                total = sum(counters.values.values())
            print(f"{elapsed:7.1f} {rss:10.1f}  {total}  " + "#" * int(rss / 4), flush=True)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        died = server.poll() is not None

        print("soak: outcomes:")
        for name, value in sorted(counters.values.items()):
            print(f"  {name:32} {value}")
        failures = []
        if died:
            failures.append(f"the server exited with {server.returncode}")
        bad = {name: value for name, value in counters.values.items()
               if re.search(r" 5\d\d$", name) and not name.endswith((" 503",))}
        if bad:
            failures.append(f"5xx answers: {bad}")
        last_third = [sample for sample in samples if sample[0] >= samples[-1][0] * 2 / 3] if samples else []
        if len(last_third) >= 3:
            xs = [t for t, _ in last_third]
            ys = [r for _, r in last_third]
            mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
                     / max(1e-9, sum((x - mean_x) ** 2 for x in xs)))
            growth = slope * (xs[-1] - xs[0])
            margin = max(args.margin_mib, 0.10 * ys[0])
            print(f"soak: RSS over the last third: {ys[0]:.1f} -> {ys[-1]:.1f} MiB, fitted growth {growth:+.1f} MiB "
                  f"(margin {margin:.1f} MiB); peak {max(r for _, r in samples):.1f} MiB")
            if growth > margin:
                failures.append(f"RSS keeps growing over the last third: {growth:+.1f} MiB > {margin:.1f} MiB")
        else:
            print("soak: too few samples to judge the RSS curve (use --seconds >= 3 * --sample-seconds)")
        for failure in failures:
            print(f"soak: FAIL: {failure}", file=sys.stderr)
        print("soak: " + ("FAILED" if failures else "passed"))
        return 1 if failures else 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
