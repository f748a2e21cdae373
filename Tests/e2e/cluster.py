"""A cluster for the e2e tests: N instances on one PostgreSQL database and nginx in front of them
with deploy/nginx.conf (its ports rewritten, nothing else), in a temporary prefix of its own, on a
free port, stopped by its PID."""

import concurrent.futures
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from lab_server import stop_process
from reliab import open_sse, read_sse, start_lab, terminate, wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
CONF = ROOT / "deploy" / "nginx.conf"
OUTPUT = Path(__file__).resolve().parent / "output"


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_conf(port, upstreams):
    """deploy/nginx.conf listening on `port`, in front of `upstreams` (ports)."""
    text = CONF.read_text()
    assert "listen 127.0.0.1:8080;" in text
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+ (.*);$", text, flags=re.M)
    assert servers, "deploy/nginx.conf names no upstream server"
    text = re.sub(r"^(\s*)server 127\.0\.0\.1:\d+ .*;\n", "", text, flags=re.M)
    lines = "".join(f"        server 127.0.0.1:{p} {servers[0]};\n" for p in upstreams)
    return text.replace("        keepalive", lines + "        keepalive", 1)


class Nginx:
    def __init__(self, upstreams, name="nginx"):
        self.dir = Path(tempfile.mkdtemp(prefix="concurrency-lab-nginx."))
        self.dir.chmod(0o755)
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(render_conf(self.port, upstreams))
        OUTPUT.mkdir(exist_ok=True)
        self.log_path = OUTPUT / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [nginx_binary(), "-p", str(self.dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.base_url = f"http://127.0.0.1:{self.port}"
        wait_until(self._healthy, timeout=15, what="nginx answering /healthz")

    def _healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """Instances named `names` on the database at `url` with `flags`, and nginx in front."""

    def __init__(self, url, names, flags=()):
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            self.instances = list(pool.map(
                lambda name: start_lab(name, ("--instance-name", name, *flags), db=url), names))
        self.nginx = Nginx([server.port for server in self.instances], name=f"nginx-{names[0]}")
        self.base_url = self.nginx.base_url

    def stop(self):
        for server in self.instances:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)  # in case a test left it stopped
                terminate(server)
        self.nginx.stop()


def stream(port, path, headers=(), timeout=30):
    """Every frame of an event stream until `run.finished` (or the stream's end)."""
    sock, head, leftover = open_sse(port, path, headers=headers, timeout=timeout)
    try:
        assert head.status == 200, head
        return read_sse(sock, head, leftover, timeout=timeout)
    finally:
        sock.close()


def in_thread(function, *args, **kwargs):
    """Starts `function` in a thread; returns a join that gives its value (or raises its error)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(function, *args, **kwargs)
    pool.shutdown(wait=False)
    return lambda timeout=60: future.result(timeout)
