"""Start and stop the server under test: the real binary, or the mock for the fault tests.

The binary is $LAB_BINARY (Tests/e2e/run.sh sets it), else .build/release/concurrency-lab.
Both print a line containing `listening on http://127.0.0.1:PORT` once bound to port 0; we
read the port from that line (in a log file, so a chatty server never blocks on a full pipe),
wait for /healthz, and stop the process by its PID.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "output"
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
# Tests/e2e/run.sh runs most tests on two pytest-xdist workers; each worker's servers log to
# files of their own (a server's port is read from its log).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def log_file(name):
    """OUTPUT/NAME.log, or OUTPUT/NAME-gwN.log on xdist worker gwN."""
    return OUTPUT / (f"{name}-{WORKER}.log" if WORKER else f"{name}.log")


@dataclass
class LabServer:
    process: subprocess.Popen
    base_url: str
    kind: str
    log_path: Path

    def get_json(self, path, timeout=10):
        with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
            return json.load(response)

    def post_json(self, path, body, timeout=70):
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def stop(self):
        stop_process(self.process)


def stop_process(process, timeout=10):
    """SIGTERM to a process the tests started (by its PID), then wait; SIGKILL after `timeout`
    seconds. Returns its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def lab_binary():
    binary = os.environ.get("LAB_BINARY") or str(HERE.parent.parent / ".build" / "release" / "concurrency-lab")
    if not os.path.isfile(binary):
        raise RuntimeError(f"no server binary at {binary}: build it (swift build -c release) or set LAB_BINARY")
    return binary


def binary_is_debug():
    """Whether the server binary is a debug build (its `--version` says so)."""
    version = subprocess.run([lab_binary(), "--version"], capture_output=True, text=True, timeout=30, check=True)
    return "debug build" in version.stdout


def server_command(mock_args=None):
    """The real server's command line, or the mock's when `mock_args` is given."""
    if mock_args is None:
        return [lab_binary(), "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:"], "binary"
    return [sys.executable, str(HERE / "mock_server.py"), "--host", "127.0.0.1", "--port", "0", *mock_args], "mock"


def start_server(name="server", mock_args=None, timeout=60):
    """The real server, or with `mock_args` the mock (replaying Tests/e2e/fixture/server.json)."""
    OUTPUT.mkdir(exist_ok=True)
    command, kind = server_command(mock_args)
    log_path = log_file(name)
    log = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=HERE.parent.parent)
    log.close()
    deadline = time.monotonic() + timeout
    base_url = None
    while time.monotonic() < deadline and base_url is None:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        match = LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            base_url = match.group(1)
        else:
            time.sleep(0.05)
    server = LabServer(process, base_url, kind, log_path)
    if base_url is None:
        server.stop()
        raise RuntimeError(f"{kind} server printed no 'listening on' line within {timeout} s")
    while time.monotonic() < deadline:
        try:
            if server.get_json("/healthz", timeout=2).get("status") == "ok":
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{kind} server did not answer /healthz within {timeout} s")
