"""A corpus of malformed requests, sent over raw sockets to one real server.

Every request gets its documented 4xx: application/problem+json whenever the server itself
answers (400 malformed, 404, 405, 413, 415, 422), plain when libmicrohttpd refuses the
request before it reaches the server (400 for a broken request line or chunk, 414 for an
over-long URL, 431 for over-long headers). Never a 5xx, never a hang; and the server still
answers /healthz after each one.
"""

import json
import subprocess

import pytest

from reliab import BINARY, needs_binary, raw_exchange, start_lab

pytestmark = needs_binary

LIMIT = 65536  # --max-body-bytes default


@pytest.fixture(scope="module")
def lab():
    server = start_lab("bad-input")
    # One run to aim run-scoped requests at (events, Last-Event-ID, after).
    run = server.post_json("/patterns/gather/runs?wait=10", {"count": 2, "delay_ms": 1})
    server.run_id = run["id"]
    yield server
    server.stop()


def request(method, target, body=b"", headers=(), content_length=True, version="HTTP/1.1"):
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1", "Connection: close", *headers]
    if content_length and body:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
    return head + body


def post_run(body, content_type="application/json", pattern="gather", query=""):
    headers = [f"Content-Type: {content_type}"] if content_type else []
    if isinstance(body, str):
        body = body.encode()
    return request("POST", f"/patterns/{pattern}/runs{query}", body, headers)


def chunked(body_chunks, trailer=b"0\r\n\r\n", content_type="application/json", target="/patterns/gather/runs"):
    head = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    data = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in body_chunks)
    return head + data + trailer


# (id, request bytes or a function of the run id, expected status, problem+json expected)
P = True    # the server answers: problem+json
MHD = False  # libmicrohttpd answers: plain
CLOSED = None  # libmicrohttpd closes the connection without a response
CORPUS = [
    # --- JSON bodies that are not JSON
    ("json-truncated", post_run('{"count": '), 400, P),
    ("json-trailing-garbage", post_run('{"count": 1} x'), 400, P),
    ("json-single-quotes", post_run("{'count': 1}"), 400, P),
    ("json-unquoted-key", post_run("{count: 1}"), 400, P),
    ("json-trailing-comma", post_run('{"count": 1,}'), 400, P),
    ("json-comment", post_run('{"count": 1 /* c */}'), 400, P),
    ("json-nan", post_run('{"count": NaN}'), 400, P),
    ("json-infinity", post_run('{"count": Infinity}'), 400, P),
    ("json-lone-surrogate-escape", post_run('{"count": 1, "seed": "\\ud800"}'), 400, P),
    ("json-bad-escape", post_run('{"a\\q": 1}'), 400, P),
    ("json-control-char-in-string", post_run(b'{"a\x01": 1}'), 400, P),
    # --- JSON that is not an object
    ("json-array", post_run("[1, 2, 3]"), 400, P),
    ("json-string", post_run('"count"'), 400, P),
    ("json-number", post_run("10"), 400, P),
    ("json-null", post_run("null"), 400, P),
    ("json-true", post_run("true"), 400, P),
    # --- depth and size
    ("nesting-60000-brackets", post_run(b"[" * 60000), 400, P),
    ("nesting-60000-objects", post_run(b'{"a":' * 13000), 400, P),
    ("nesting-100000-brackets-over-limit", post_run(b"[" * 100000), 413, P),
    ("nesting-in-parameter", post_run(b'{"count": ' + b"[" * 1000 + b"]" * 1000 + b"}"), 400, P),
    ("huge-integer", post_run('{"count": 123456789012345678901234567890}'), 422, P),
    # Beyond a Double's range: refused by the parser ("number out of range at byte N").
    ("huge-exponent", post_run('{"count": 1e400}'), 400, P),
    ("huge-negative-exponent-delay", post_run('{"delay_ms": -1e400}'), 400, P),
    ("count-above-max", post_run('{"count": 1000001}'), 422, P),
    ("count-zero", post_run('{"count": 0}'), 422, P),
    ("count-negative", post_run('{"count": -5}'), 422, P),
    ("count-fractional", post_run('{"count": 2.5}'), 422, P),
    ("delay-negative", post_run('{"delay_ms": -1}'), 422, P),
    ("delay-above-max", post_run('{"delay_ms": 60001}'), 422, P),
    ("semaphore-limit-fractional", post_run('{"limit": 0.5}', pattern="semaphore"), 422, P),
    ("count-string-word", post_run('{"count": "ten"}'), 422, P),
    ("count-bool", post_run('{"count": true}'), 422, P),
    ("count-null", post_run('{"count": null}'), 422, P),
    ("count-object", post_run('{"count": {"n": 1}}'), 422, P),
    ("count-array", post_run('{"count": [1]}'), 422, P),
    ("delays-not-a-list", post_run('{"delays_ms": "fast"}', pattern="first-completed"), 422, P),
    ("enum-wrong-value", post_run('{"style": "sometimes"}', pattern="timeout"), 422, P),
    ("unknown-parameter", post_run('{"count": 1, "bogus": 2}'), 422, P),
    ("unknown-parameter-query", post_run("", query="?bogus=1"), 422, P),
    ("duplicate-keys", post_run('{"count": 1, "count": 2}'), 400, P),
    # --- encodings
    ("invalid-utf8-json", post_run(b'{"seed": "\xff\xfe"}'), 400, P),
    ("invalid-utf8-key", post_run(b'{"\xc3\x28": 1}'), 400, P),
    ("invalid-utf8-form", post_run(b"count=\xff", content_type="application/x-www-form-urlencoded"), 400, P),
    ("nul-in-json", post_run(b'{"count": 1\x00}'), 400, P),
    ("nul-in-json-string", post_run(b'{"seed\x00": 1}'), 400, P),
    ("utf16-bom-json", post_run('\ufeff{"count": 1}'.encode("utf-16")), 400, P),
    # --- content types
    ("content-type-text-plain", post_run('{"count": 1}', content_type="text/plain"), 415, P),
    ("content-type-xml", post_run("<count>1</count>", content_type="application/xml"), 415, P),
    ("content-type-multipart", post_run("--x\r\n", content_type="multipart/form-data; boundary=x"), 415, P),
    ("content-type-missing-garbage", post_run("count is ten", content_type=None), 400, P),
    # A repeated form field is a list (OpenAPI's form encoding of arrays): `count` is not
    # one, so the run is refused with 422 naming it.
    ("form-duplicate-field", post_run("count=1&count=2", content_type="application/x-www-form-urlencoded"), 422, P),
    ("form-bad-value", post_run("count=many", content_type="application/x-www-form-urlencoded"), 422, P),
    # --- bodies over the limit, chunked bodies
    ("body-over-limit-content-length", post_run(b"{" + b" " * LIMIT + b"}"), 413, P),
    ("body-declared-huge-content-length",
     request("POST", "/patterns/gather/runs", b"", ["Content-Type: application/json", "Content-Length: 10000000000"]),
     413, P),
    ("body-over-limit-chunked", chunked([b" " * 16384] * 5 + [b"{}"]), 413, P),
    ("chunked-invalid-json", chunked([b'{"count":', b" oops}"]), 400, P),
    ("chunked-bad-size-line", chunked([], trailer=b"zz\r\n{}\r\n0\r\n\r\n"), 400, MHD),
    ("content-length-not-a-number",
     request("POST", "/patterns/gather/runs", b"", ["Content-Type: application/json", "Content-Length: ten"]), 400, MHD),
    # --- request lines, URLs and headers
    ("url-over-long", request("GET", "/runs?pattern=" + "a" * 70000), 414, MHD),
    ("header-over-long", request("GET", "/healthz", headers=["X-Big: " + "b" * 70000]), 431, MHD),
    ("many-headers", request("GET", "/healthz", headers=[f"X-H{i}: {'v' * 60}" for i in range(1500)]), 431, MHD),
    ("header-without-colon", request("GET", "/healthz", headers=["NoColonHere"]), 400, MHD),
    # libmicrohttpd closes the connection on a request line it cannot parse at all.
    ("request-line-tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", CLOSED, MHD),
    ("request-line-one-word", b"HELLO\r\n\r\n", CLOSED, MHD),
    ("request-line-extra-token", b"GET / HTTP/1.1 extra\r\nHost: 127.0.0.1\r\n\r\n", 400, MHD),
    # RFC 9110 15.6.6: a server that does not support the request's major HTTP version answers
    # 505. This is libmicrohttpd's answer, the one status of 5xx a client's bad input gets,
    # and it is the right one; documented in openapi.yaml and the README.
    ("http-version-bogus", request("GET", "/healthz", version="HTTP/9.9"), 505, MHD),
    ("method-unknown-on-runs", request("BREW", "/runs"), 405, P),
    ("method-put-on-pattern-runs", request("PUT", "/patterns/gather/runs", b"{}", ["Content-Type: application/json"]),
     405, P),
    ("method-delete-on-patterns", request("DELETE", "/patterns"), 405, P),
    ("method-post-on-healthz", request("POST", "/healthz", b"{}"), 405, P),
    ("unknown-pattern", post_run('{"count": 1}', pattern="no-such-pattern"), 404, P),
    ("unknown-run", request("GET", "/runs/01JD0000000000000000000000"), 404, P),
    ("unknown-run-garbage-id", request("GET", "/runs/%00%ff"), 404, P),
    ("delete-unknown-run", request("DELETE", "/runs/01JD0000000000000000000000"), 404, P),
    # --- static paths that try to leave public/
    ("static-dotdot", request("GET", "/../etc/passwd"), 404, P),
    ("static-dotdot-deep", request("GET", "/css/../../../etc/passwd"), 404, P),
    ("static-encoded-dotdot", request("GET", "/%2e%2e/%2e%2e/etc/passwd"), 404, P),
    ("static-encoded-slash", request("GET", "/..%2f..%2fetc%2fpasswd"), 404, P),
    ("static-double-encoded", request("GET", "/%252e%252e/etc/passwd"), 404, P),
    ("static-backslash", request("GET", "/..%5c..%5cetc%5cpasswd"), 404, P),
    ("static-encoded-nul", request("GET", "/index.html%00.txt"), 404, P),
    ("static-broken-escape", request("GET", "/index.html%zz"), 404, P),
    ("static-overlong-utf8-dot", request("GET", "/%c0%ae%c0%ae/etc/passwd"), 404, P),
    # --- query parameters
    pytest.param("runs-repeated-limit", request("GET", "/runs?limit=1&limit=2"), 400, P),
    pytest.param("runs-repeated-status", request("GET", "/runs?status=failed&status=succeeded"), 400, P),
    pytest.param("runs-repeated-cursor", request("GET", "/runs?cursor=01JD0000000000000000000000&cursor=01JD0000000000000000000001"), 400, P),
    ("post-repeated-count", post_run("", query="?count=1&count=2"), 400, P),
    ("post-repeated-wait", post_run("", query="?wait=1&wait=2"), 400, P),
    ("wait-negative", post_run("{}", query="?wait=-1"), 400, P),
    ("wait-word", post_run("{}", query="?wait=soon"), 400, P),
    ("wait-too-long", post_run("{}", query="?wait=100000"), 400, P),
    ("wait-nan", post_run("{}", query="?wait=nan"), 400, P),
    ("wait-inf", post_run("{}", query="?wait=inf"), 400, P),
    ("prefer-wait-bad", request("POST", "/patterns/gather/runs", b"{}",
                                ["Content-Type: application/json", "Prefer: wait=forever"]), 400, P),
    ("run-get-wait-bad", lambda run: request("GET", f"/runs/{run}?wait=-3"), 400, P),
    ("runs-limit-zero", request("GET", "/runs?limit=0"), 400, P),
    ("runs-limit-too-big", request("GET", "/runs?limit=501"), 400, P),
    ("runs-limit-word", request("GET", "/runs?limit=all"), 400, P),
    ("runs-limit-fraction", request("GET", "/runs?limit=1.5"), 400, P),
    ("runs-cursor-garbage", request("GET", "/runs?cursor=not-a-cursor"), 400, P),
    ("runs-cursor-injection", request("GET", "/runs?cursor=%27%20OR%201%3D1%20--"), 400, P),
    ("runs-status-unknown", request("GET", "/runs?status=exploded"), 400, P),
    ("runs-unknown-parameter", request("GET", "/runs?order=asc"), 400, P),
    ("events-after-negative", lambda run: request("GET", f"/runs/{run}/events?after=-1"), 400, P),
    ("events-after-word", lambda run: request("GET", f"/runs/{run}/events?after=last"), 400, P),
    ("events-after-repeated", lambda run: request("GET", f"/runs/{run}/events?after=1&after=2"), 400, P),
    ("last-event-id-word", lambda run: request("GET", f"/runs/{run}/events", headers=["Last-Event-ID: yesterday"]),
     400, P),
    ("last-event-id-negative", lambda run: request("GET", f"/runs/{run}/events", headers=["Last-Event-ID: -7"]),
     400, P),
    ("last-event-id-huge", lambda run: request("GET", f"/runs/{run}/events",
                                               headers=["Last-Event-ID: 99999999999999999999999"]), 400, P),
    ("events-unknown-run", request("GET", "/runs/01JD0000000000000000000000/events"), 404, P),
]


def case_id(case):
    return case.values[0] if hasattr(case, "values") else case[0]


def as_param(case):
    if hasattr(case, "values"):
        return pytest.param(*case.values[1:], marks=case.marks, id=case.values[0])
    return pytest.param(*case[1:], id=case[0])


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 60
    assert len({case_id(case) for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("data,expected,problem", [as_param(case) for case in CORPUS])
def test_malformed_request_gets_documented_4xx(lab, data, expected, problem):
    if callable(data):
        data = data(lab.run_id)
    response = raw_exchange(lab.port, data, timeout=15)
    if expected is CLOSED:
        assert response is None, f"expected a close, got {response.status} {response.body[:200]!r}"
    else:
        assert response is not None, "the server closed the connection without a response"
        assert response.status < 500 or expected == 505, f"5xx: {response.status} {response.body[:300]!r}"
        assert response.status == expected, f"{response.status} {response.body[:300]!r}"
    if problem:
        assert response.header("content-type").startswith("application/problem+json"), response.headers
        body = response.json()
        assert body["status"] == expected
        assert body["title"] and "type" in body
        assert response.header("x-request-id")
    # The server is still healthy and answers a normal request.
    health = raw_exchange(lab.port, request("GET", "/healthz"), timeout=10)
    assert health is not None and health.status == 200
    assert json.loads(health.body)["status"] == "ok"


def test_headers_fit_the_connection_memory_and_connection_memory_bytes_makes_room():
    """The default pool (16 KiB) takes a browser's heavy request (4 KB of cookies and 20 more
    fields) and refuses a 17 KB header with 431; --connection-memory-bytes 32768 takes it."""
    heavy = ["Cookie: " + "; ".join(f"c{i}={'x' * 95}" for i in range(40)),
             *[f"X-Extra-{i}: {'v' * 40}" for i in range(20)]]
    big = ["X-Big: " + "b" * 17000]
    default = start_lab("connection-memory-default")
    roomy = start_lab("connection-memory-32k", flags=["--connection-memory-bytes", "32768"])
    try:
        assert raw_exchange(default.port, request("GET", "/healthz", headers=heavy)).status == 200
        assert raw_exchange(default.port, request("GET", "/healthz", headers=big)).status == 431
        assert raw_exchange(roomy.port, request("GET", "/healthz", headers=big)).status == 200
    finally:
        default.stop()
        roomy.stop()


def test_connection_memory_bytes_out_of_bounds_is_refused_at_start_naming_the_flag():
    out = subprocess.run([BINARY, "serve", "--port", "0", "--connection-memory-bytes", "1000"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "--connection-memory-bytes" in out.stderr
