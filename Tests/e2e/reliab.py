"""Helpers for the process-level reliability tests (test_bad_input, test_overload, ...).

`start_lab(name, flags, db=...)` starts `$LAB_BINARY serve --host 127.0.0.1 --port 0` with
extra flags, the way lab_server.start_server does (port from the `listening on` log line,
then /healthz). `raw_exchange` sends raw bytes over a socket and parses one HTTP/1.1
response; `read_sse` reads an event stream until its terminal frame or EOF.
Every wait here is bounded by a deadline.
"""

import json
import os
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab_server import HERE, LISTENING, OUTPUT, LabServer, log_file, stop_process

BINARY = os.environ.get("LAB_BINARY")

needs_binary = pytest.mark.skipif(not BINARY, reason="needs the real server: set LAB_BINARY (Tests/e2e/run.sh does)")


def start_lab(name, flags=(), db=":memory:", env=None, timeout=60, host="127.0.0.1", expect_healthy=True,
              open_files=None):
    """Starts the real server with `flags`; returns a LabServer (with .port). `open_files`
    (soft, hard) sets the child's RLIMIT_NOFILE before it starts."""
    OUTPUT.mkdir(exist_ok=True)
    command = [BINARY, "serve", "--host", host, "--port", "0", "--db", str(db), *flags]
    log_path = log_file(name)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=HERE.parent.parent, env=environment(env),
                                   preexec_fn=_open_files_limit(open_files))
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline and port is None:
        text = log_path.read_text(errors="replace")
        match = _any_listening(text)
        if match:
            port = int(match.rsplit(":", 1)[1])
            break
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {text[-2000:]}")
        time.sleep(0.05)
    if port is None:
        _kill(process)
        raise RuntimeError(f"server printed no 'listening on' line within {timeout} s")
    server = LabServer(process, f"http://127.0.0.1:{port}", "binary", log_path)
    server.port = port
    if not expect_healthy:
        return server
    while time.monotonic() < deadline:
        try:
            if server.get_json("/healthz", timeout=2).get("status") == "ok":
                return server
        except OSError:
            pass
        time.sleep(0.05)
    _kill(process)
    raise RuntimeError(f"server did not answer /healthz within {timeout} s")


def _open_files_limit(limits):
    if limits is None:
        return None
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    return apply


def environment(changes):
    """os.environ without LAB_API_TOKEN, with `changes` applied; None removes a variable."""
    result = dict(os.environ)
    result.pop("LAB_API_TOKEN", None)
    for name, value in (changes or {}).items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def _any_listening(text):
    """The URL of the `listening on http://HOST:PORT` line (any host: the 0.0.0.0 test too)."""
    import re
    match = re.search(r"listening on (http://[^\s/]+:\d+)", text)
    return match.group(1) if match else None


def _kill(process):
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def hard_kill(server):
    """SIGKILL, by PID, and reap."""
    _kill(server.process)


def terminate(server, timeout=20):
    """SIGTERM and wait; returns the exit status (SIGKILL after `timeout`)."""
    return stop_process(server.process, timeout=timeout)


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict
    body: bytes
    raw: bytes = b""

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


def raw_exchange(port, data, timeout=10, shut_write=False, chunks=None):
    """Sends `data` (bytes) on a fresh connection and reads one response.

    Reads until the body given by Content-Length is complete, or until the peer closes.
    Returns None when the server closed the connection without a response.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
            for chunk in chunks or ():
                sock.sendall(chunk)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413, 431) and close before reading everything
        return read_response(sock, timeout)
    finally:
        sock.close()


def read_response(sock, timeout=10):
    deadline = time.monotonic() + timeout
    buffer = b""
    head_end = -1
    while head_end < 0:
        chunk = _recv(sock, deadline)
        if not chunk:
            return None if not buffer else _parse(buffer, buffer.find(b"\r\n\r\n"))
        buffer += chunk
        head_end = buffer.find(b"\r\n\r\n")
    response = _parse(buffer, head_end)
    length = response.header("content-length")
    if response.header("transfer-encoding") == "chunked":
        while not buffer.endswith(b"0\r\n\r\n"):
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            buffer += chunk
        response.body = _dechunk(buffer[head_end + 4:])
    elif length is not None:
        while len(buffer) - head_end - 4 < int(length):
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            buffer += chunk
        response.body = buffer[head_end + 4:head_end + 4 + int(length)]
    return response


def _recv(sock, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("no complete response before the deadline")
    sock.settimeout(remaining)
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def _parse(buffer, head_end):
    head = buffer[:head_end] if head_end >= 0 else buffer
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    body = buffer[head_end + 4:] if head_end >= 0 else b""
    return RawResponse(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body, buffer)


def _dechunk(data):
    out = b""
    while data:
        line, _, rest = data.partition(b"\r\n")
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


@dataclass
class SSEFrame:
    id: int | None
    event: str
    data: str

    def json(self):
        return json.loads(self.data)


@dataclass
class SSEStream:
    status: int
    headers: dict
    frames: list = field(default_factory=list)
    ended: bool = False  # the server closed the stream


def open_sse(port, path, headers=(), method="GET", body=b"", timeout=30):
    """Opens an event stream; returns (socket, RawResponse head, leftover bytes)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    request = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{extra}"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    sock.sendall(request)
    deadline = time.monotonic() + timeout
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = _recv(sock, deadline)
        if not chunk:
            raise ConnectionError(f"stream closed before its head: {buffer!r}")
        buffer += chunk
    head_end = buffer.find(b"\r\n\r\n")
    head = _parse(buffer, head_end)
    return sock, head, buffer[head_end + 4:]


def read_sse(sock, head, leftover=b"", timeout=30, until=("run.finished", "server.shutdown"), max_frames=200000):
    """Reads frames until a frame named in `until`, EOF, or the deadline (TimeoutError)."""
    stream = SSEStream(head.status, head.headers)
    chunked = head.header("transfer-encoding") == "chunked"
    deadline = time.monotonic() + timeout
    raw = leftover
    text = ""
    while len(stream.frames) < max_frames:
        body, raw = (_take_chunks(raw) if chunked else (raw, b""))
        text += body.decode("utf-8", errors="replace")
        while "\n\n" in text:
            block, text = text.split("\n\n", 1)
            frame = _frame(block)
            if frame is not None:
                stream.frames.append(frame)
                if frame.event in until:
                    return stream
        chunk = _recv(sock, deadline)
        if not chunk:
            stream.ended = True
            return stream
        raw += chunk
    return stream


def _take_chunks(raw):
    """Decodes the complete chunks at the front of `raw`; returns (data, rest)."""
    out = b""
    while True:
        line_end = raw.find(b"\r\n")
        if line_end < 0:
            return out, raw
        size = int(raw[:line_end].split(b";")[0] or b"0", 16)
        if size == 0:
            return out, b""
        if len(raw) < line_end + 2 + size + 2:
            return out, raw
        out += raw[line_end + 2:line_end + 2 + size]
        raw = raw[line_end + 2 + size + 2:]


def _frame(block):
    frame_id, event, data = None, "message", []
    meaningful = False
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            frame_id = int(value)
            meaningful = True
        elif name == "event":
            event = value
            meaningful = True
        elif name == "data":
            data.append(value)
            meaningful = True
    if not meaningful or (event == "message" and not data):
        return None
    return SSEFrame(frame_id, event, "\n".join(data))


def quote(text):
    return urllib.parse.quote(text, safe="")


def wait_until(predicate, timeout=30, interval=0.05, what="condition"):
    """Polls `predicate` until truthy; returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        time.sleep(interval)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
