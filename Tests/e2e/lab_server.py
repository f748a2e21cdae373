"""Start and stop the server under test: the real binary ($LAB_BINARY) or the mock.

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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def server_command(extra_mock_args=()):
    binary = os.environ.get("LAB_BINARY")
    if binary:
        return [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:"], "binary"
    return [sys.executable, str(HERE / "mock_server.py"), "--host", "127.0.0.1", "--port", "0",
            *extra_mock_args], "mock"


def start_server(name="server", extra_mock_args=(), timeout=60):
    OUTPUT.mkdir(exist_ok=True)
    command, kind = server_command(extra_mock_args)
    log_path = OUTPUT / f"{name}.log"
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
