"""The access log as `serve` writes it: one line per request on stderr, in batches (README,
"Serve flags", `--log-level`). Each line is formatted on the stack and copied into the batch; a line longer than the
stack buffer (512 bytes: a long path or request id) is formatted again into an array. Both
must come out whole, with every field, and lines written by the server's threads at once must
not tear into each other.
"""

import re
import threading
import urllib.error
import urllib.request

from reliab import needs_binary, start_lab, terminate, wait_until

pytestmark = needs_binary

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 info concurrency-lab: bytes=(\d+) duration_ms=\d+\.\d{3} "
    r"method=(\S+) path=(\S+) remote=127\.0\.0\.1:\d+ request_id=(\S+) status=(\d+) \[MicroHTTP\] request$")


def get(base_url, target, request_id):
    request = urllib.request.Request(base_url + target, headers={"X-Request-Id": request_id})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def access_lines(lab):
    lines = {}
    for line in lab.log_path.read_text(errors="replace").splitlines():
        if line.endswith("[MicroHTTP] request"):
            match = LINE.match(line)
            assert match, f"a torn or malformed access-log line: {line[:300]!r}"
            lines[match.group(4)] = match.groups()
    return lines


def test_every_request_is_one_whole_line_short_long_or_concurrent():
    lab = start_lab("access-log")
    try:
        status, body = get(lab.base_url, "/healthz?probe=1", "e2e-short")
        assert status == 200
        long_path = "/" + "a" * 1500
        long_status, long_body = get(lab.base_url, long_path + "?x=1", "e2e-long")
        assert long_status == 404

        def client(worker):
            for index in range(50):
                assert get(lab.base_url, "/healthz", f"e2e-many-{worker}-{index}")[0] == 200

        threads = [threading.Thread(target=client, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Batches are written every 100 ms.
        wait_until(lambda: len([key for key in access_lines(lab) if key.startswith("e2e-many-")]) == 200,
                   timeout=10, what="all 200 concurrent requests logged")
        lines = access_lines(lab)
    finally:
        assert terminate(lab) == 0

    assert lines["e2e-short"] == (str(len(body)), "GET", "/healthz", "e2e-short", "200")
    # The long line (over 1,600 bytes) went through the array path and is whole.
    assert lines["e2e-long"] == (str(len(long_body)), "GET", long_path, "e2e-long", "404")
    many = {key for key in lines if key.startswith("e2e-many-")}
    assert many == {f"e2e-many-{worker}-{index}" for worker in range(4) for index in range(50)}
