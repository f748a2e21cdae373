"""A page served on another origin than the server under test, and what tests read of the server.

`OtherOrigin` serves one blank page from a second port on 127.0.0.1 (a different origin to a
browser: same host, another port), so scripts run in it reach the server cross-origin, as
another service's page would. `requests_to(server, method, path)` counts the server's own
access-log lines for a request, which is how a test sees what a browser did on the wire
(reconnects answered 204, preflights) rather than what the page says it did.
"""

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<!doctype html><html><head><meta charset=utf-8><title>other origin</title></head><body>other</body></html>"


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_):
        pass


class OtherOrigin:
    """`with OtherOrigin() as origin:` serves the page at `origin.url` until the block ends."""

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def requests_to(server, method, path):
    """The server's access-log lines for `method path` (the status of each, in order)."""
    pattern = re.compile(rf"method={method} path={re.escape(path)}(?:\?\S*)? .*?status=(\d+)")
    return [int(match.group(1)) for match in pattern.finditer(server.log_path.read_text(errors="replace"))]


def settled_requests(server, method, path, at_least, timeout=10):
    """`requests_to` once it has `at_least` lines (the access log is written when a request
    completes, and buffered), bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        lines = requests_to(server, method, path)
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)
