"""Slow clients (slowloris) neither starve a normal client nor stay forever.

300 connections send a request's headers a byte at a time. While they trickle, a normal
client's requests still complete (their latencies are printed). Then the slow clients stall
mid-header, and the connection timeout (`--connection-timeout 2`) closes every one of them.

libmicrohttpd's connection timeout is an idle timeout: a client that keeps sending a byte
more often than the timeout stays open while it does. That is why the closing is checked
after the trickle stops; a per-IP connection limit is what bounds a trickling client.
"""

import selectors
import socket
import statistics
import threading
import time

import requests

from reliab import needs_binary, start_lab

pytestmark = needs_binary

SLOW_CLIENTS = 300
TIMEOUT_S = 2
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\nX-Padding: " + b"p" * 200


def test_slow_clients_do_not_delay_a_normal_client_and_are_closed_by_the_timeout():
    lab = start_lab("slow-clients", ["--connection-timeout", str(TIMEOUT_S)])
    sockets = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", lab.port), timeout=5)
            sock.setblocking(False)
            sockets.append(sock)
        sent = {sock: 0 for sock in sockets}
        closed_early = set()

        latencies, failures = [], []

        def normal_client():
            for i in range(15):
                started = time.monotonic()
                try:
                    if i % 3 == 2:
                        response = requests.post(lab.base_url + "/patterns/gather/runs?wait=10",
                                                 json={"count": 3, "delay_ms": 5}, timeout=15)
                    else:
                        response = requests.get(lab.base_url + "/healthz", timeout=15)
                    if response.status_code not in (200,):
                        failures.append(response.status_code)
                except requests.RequestException as error:
                    failures.append(repr(error))
                latencies.append(time.monotonic() - started)

        # Phase 1: trickle one byte per client every 0.5 s (faster than the idle timeout)
        # for ~4 s, while the normal client works.
        normal = threading.Thread(target=normal_client, daemon=True)
        normal.start()
        trickle_end = time.monotonic() + 4
        while time.monotonic() < trickle_end:
            round_start = time.monotonic()
            for sock in sockets:
                if sock in closed_early:
                    continue
                try:
                    sock.send(REQUEST[sent[sock]:sent[sock] + 1])
                    sent[sock] += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    closed_early.add(sock)
            time.sleep(max(0.0, 0.5 - (time.monotonic() - round_start)))
        normal.join(timeout=120)
        assert not normal.is_alive(), "the normal client's requests did not complete"
        assert not failures, failures
        print(f"\nnormal client while {SLOW_CLIENTS} slow clients trickled: n={len(latencies)} "
              f"median={statistics.median(latencies) * 1000:.1f} ms max={max(latencies) * 1000:.1f} ms; "
              f"slow clients closed while still trickling: {len(closed_early)}")
        assert all(sent[sock] < len(REQUEST) for sock in sockets), "a slow client finished its headers"

        # Phase 2: the slow clients stall mid-header; the idle timeout closes each one.
        stalled_at = time.monotonic()
        selector = selectors.DefaultSelector()
        open_ones = [sock for sock in sockets if sock not in closed_early]
        for sock in open_ones:
            selector.register(sock, selectors.EVENT_READ)
        closed_after = []
        deadline = stalled_at + TIMEOUT_S + 20
        remaining = len(open_ones)
        while remaining and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if data:
                    # A response (e.g. 408) before the close: keep waiting for the close itself.
                    continue
                selector.unregister(key.fileobj)
                closed_after.append(time.monotonic() - stalled_at)
                remaining -= 1
        selector.close()
        # Still healthy afterwards.
        assert requests.get(lab.base_url + "/healthz", timeout=10).status_code == 200
        print(f"stalled slow clients closed: {len(closed_after)}/{len(open_ones)}, after "
              f"min={min(closed_after, default=0):.2f} s median={statistics.median(closed_after or [0]):.2f} s "
              f"max={max(closed_after, default=0):.2f} s (timeout {TIMEOUT_S} s)")
        assert remaining == 0, f"{remaining} stalled slow clients still open {TIMEOUT_S + 20} s after stalling"
    finally:
        for sock in sockets:
            sock.close()
        lab.stop()
