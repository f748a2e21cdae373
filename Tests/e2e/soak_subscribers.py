"""Subscriber soak: 5,000 event streams connecting and disconnecting for minutes on one server.

One periodic run ticks every 100 ms for the whole soak; a single epoll loop (selectors) keeps
SUBSCRIBERS streams open on it, and every second closes a random share of them (some mid-frame)
and opens as many new ones, half resuming with `Last-Event-ID`. The server's RSS and open
descriptors (/proc/PID/fd) are sampled every few seconds.

Fails (exit 1) when the server dies, when RSS keeps growing over the last third of the soak
beyond a margin (fitted growth > max(--margin-mib, 10 %)), when descriptors are left behind once
every client has gone (more than 16 above the count before the first subscriber), when a
stream request gets anything but 200 (the run ends within the soak, so a 204 is not expected),
or when a stream is closed, by either side, before its answer's first bytes arrived (the soak
waits up to 5 s for the last churn's answers before it closes everything).

Standard library only. Usage: soak_subscribers.py --binary PATH [--seconds 180] [--subscribers 5000]
"""

import argparse
import json
import os
import random
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_server(binary, subscribers, run_ms, log):
    # The periodic run outlasts the soak: its duration is a delay parameter, bounded by
    # --max-delay-ms (60 s by default), and its planned duration by --max-run-seconds (300 s).
    command = [binary, "serve", "--port", "0", "--db", ":memory:", "--log-level", "notice",
               "--max-subscribers", str(subscribers + 500), "--connection-limit", str(subscribers + 1000),
               "--max-delay-ms", str(run_ms), "--max-run-seconds", str(max(300, -(-run_ms // 1000)))]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log.name) as text:
            match = LISTENING.search(text.read())
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}")
        time.sleep(0.05)
    process.kill()
    sys.exit("server printed no 'listening on' line")


class Subscribers:
    """The client side: SUBSCRIBERS non-blocking streams in one selector."""

    def __init__(self, port, path):
        self.port, self.path = port, path
        self.selector = selectors.DefaultSelector()
        self.open = {}        # socket -> last event id seen in its bytes
        self.statuses = {}
        self.connects = self.closes = 0
        self.unanswered = 0   # closed (by either side) before the answer's first bytes arrived

    def connect(self, resume_from=0):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        request = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        if resume_from:
            request += f"Last-Event-ID: {resume_from}\r\n"
        self.open[sock] = [0, request.encode() + b"\r\n", b""]
        self.selector.register(sock, selectors.EVENT_WRITE)
        self.connects += 1

    def close(self, sock):
        if not self.open[sock][2]:
            self.unanswered += 1
        self.selector.unregister(sock)
        sock.close()
        del self.open[sock]
        self.closes += 1

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for key, events in self.selector.select(timeout=0.05):
                sock = key.fileobj
                state = self.open.get(sock)
                if state is None:
                    continue
                try:
                    if events & selectors.EVENT_WRITE:
                        sock.send(state[1])
                        self.selector.modify(sock, selectors.EVENT_READ)
                        continue
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.close(sock)
                    continue
                if not state[2]:
                    state[2] = data[:16]
                    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else -1
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                ids = re.findall(rb"\nid: (\d+)\n", data)
                if ids:
                    state[0] = int(ids[-1])

    def churn(self, share):
        victims = random.sample(list(self.open), int(len(self.open) * share))
        for sock in victims:
            last = self.open[sock][0]
            self.close(sock)
            self.connect(last if random.random() < 0.5 else 0)

    def await_answers(self, seconds):
        """Pumps until every open stream has its answer's first bytes (at most `seconds`): the
        last churn's streams are answered before they are closed, and counted."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(not state[2] for state in self.open.values()):
            self.pump(0.1)

    def close_all(self):
        for sock in list(self.open):
            self.close(sock)


def growth_over_last_third(samples):
    tail = samples[len(samples) * 2 // 3:]
    if len(tail) < 3:
        return 0.0
    xs = [t for t, _ in tail]
    ys = [r for _, r in tail]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mean_x) ** 2 for x in xs))
    return slope * (xs[-1] - xs[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--churn", type=float, default=0.05, help="share of streams replaced every second")
    parser.add_argument("--margin-mib", type=float, default=16)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.subscribers + 200:
        sys.exit(f"the open-file limit ({hard}) is below what {args.subscribers} subscribers need")

    log = tempfile.NamedTemporaryFile(prefix="soak-subscribers-", suffix=".log", delete=False)
    run_ms = (args.seconds + 20) * 1000
    server, port = start_server(args.binary, args.subscribers, run_ms, log)
    failures = []
    try:
        body = json.dumps({"interval_ms": 100, "duration_ms": run_ms, "work_ms": 0}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/patterns/periodic/runs", data=body,
                                         headers={"Content-Type": "application/json"})
        run = json.load(urllib.request.urlopen(request, timeout=10))
        time.sleep(0.5)
        fds_before = descriptors(server.pid)
        clients = Subscribers(port, f"/runs/{run['id']}/events")
        for _ in range(args.subscribers):
            clients.connect()
        started = time.monotonic()
        samples, last_sample = [], 0.0
        while time.monotonic() - started < args.seconds:
            clients.pump(1.0)
            clients.churn(args.churn)
            elapsed = time.monotonic() - started
            if server.poll() is not None:
                failures.append(f"the server died (exit {server.returncode})")
                break
            if elapsed - last_sample >= 5:
                last_sample = elapsed
                samples.append((elapsed, rss_mib(server.pid)))
                print(f"{elapsed:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  streams {len(clients.open):5d}  "
                      f"fds {descriptors(server.pid):5d}", flush=True)
        clients.await_answers(5)
        clients.close_all()
        # The server notices a departed client at its next write: at most one tick later.
        time.sleep(2)
        fds_after = descriptors(server.pid) if server.poll() is None else -1
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    if server.returncode != 0:
        failures.append(f"the server exited with {server.returncode}")

    growth = growth_over_last_third(samples)
    peak = max((r for _, r in samples), default=0)
    print(f"\n{clients.connects} connections opened, {clients.closes} closed; statuses {clients.statuses}; "
          f"{clients.unanswered} closed before an answer")
    print(f"RSS peak {peak:.1f} MiB; fitted growth over the last third {growth:+.1f} MiB")
    print(f"descriptors: {fds_before} before the subscribers, {fds_after} after they all left")
    if growth > max(args.margin_mib, 0.10 * peak):
        failures.append(f"RSS kept growing: {growth:+.1f} MiB over the last third")
    if fds_after < 0 or fds_after > fds_before + 16:
        failures.append(f"descriptors left behind: {fds_before} -> {fds_after}")
    if clients.unanswered:
        failures.append(f"{clients.unanswered} streams were closed before any answer")
    if set(clients.statuses) - {200}:
        failures.append(f"stream requests answered other than 200: {clients.statuses}")
    for failure in failures:
        print("FAIL:", failure)
    if failures:
        print(f"server log: {log.name}")
    else:
        os.unlink(log.name)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
