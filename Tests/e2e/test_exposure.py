"""Who can reach the service, and who can change things on it.

- Without --host the server listens on 127.0.0.1 only (the listening socket in
  /proc/net/tcp, and the log line).
- `--host 0.0.0.0` logs a warning. It is bound only briefly and no traffic goes anywhere but
  127.0.0.1.
- `--api-token T` (or LAB_API_TOKEN=T) makes POST and DELETE require
  `Authorization: Bearer T`: 401 problem+json otherwise; GETs stay open.
"""

import subprocess
import time

import pytest
import requests

from reliab import BINARY, LISTENING, OUTPUT, needs_binary, start_lab, terminate, wait_until

pytestmark = needs_binary


def listening_addresses(port):
    """Local addresses of LISTEN sockets on `port`, from /proc/net/tcp and tcp6, each once (the
    server listens on several sockets of the port, one address)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":
                found.append(address)
    return sorted(set(found))


def test_default_bind_is_loopback():
    OUTPUT.mkdir(exist_ok=True)
    log_path = OUTPUT / "exposure-default.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([BINARY, "serve", "--port", "0", "--db", ":memory:"], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        match = wait_until(lambda: LISTENING.search(log_path.read_text(errors="replace")) or process.poll() is not None,
                           timeout=30, what="listening line")
        assert process.poll() is None, log_path.read_text()
        port = int(match.group(1).rsplit(":", 1)[1])
        assert listening_addresses(port) == ["0100007F"], listening_addresses(port)  # 127.0.0.1
        assert "warning" not in log_path.read_text().lower()
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def test_binding_all_interfaces_logs_a_warning():
    lab = start_lab("exposure-any", host="0.0.0.0", expect_healthy=False)
    try:
        text = wait_until(lambda: "warning" in lab.log_path.read_text().lower() and lab.log_path.read_text(),
                          timeout=10, what="warning line")
        warning = next(line for line in text.splitlines() if "warning" in line.lower())
        assert "0.0.0.0" in warning and "other machines" in warning, warning
        assert listening_addresses(lab.port) == ["00000000"]
        # Traffic only to loopback.
        assert requests.get(f"http://127.0.0.1:{lab.port}/healthz", timeout=5).status_code == 200
    finally:
        terminate(lab)


def check_token_required(lab, token):
    url = lab.base_url
    body = {"count": 1, "delay_ms": 60000}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                    {"Authorization": f"Basic {token}"}, {"Authorization": f"Bearer {token}x"}):
        response = requests.post(url + "/patterns/gather/runs", json=body, headers=headers, timeout=10)
        assert response.status_code == 401, (headers, response.status_code)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["status"] == 401
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    good = {"Authorization": f"Bearer {token}"}
    created = requests.post(url + "/patterns/gather/runs", json=body, headers=good, timeout=10)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    # GETs stay open.
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    assert requests.get(url + "/patterns", timeout=5).status_code == 200
    assert requests.get(url + "/runs", timeout=5).status_code == 200
    assert requests.get(f"{url}/runs/{run_id}", timeout=5).json()["status"] == "running"
    denied = requests.delete(f"{url}/runs/{run_id}", timeout=5)
    assert denied.status_code == 401
    assert denied.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(f"{url}/runs/{run_id}", timeout=5).json()["status"] == "running"
    assert requests.delete(f"{url}/runs/{run_id}", headers=good, timeout=5).status_code == 202
    final = requests.get(f"{url}/runs/{run_id}?wait=10", timeout=15).json()
    assert final["status"] == "cancelled"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_token_guards_post_and_delete(how):
    token = "s3cret-token"
    if how == "flag":
        lab = start_lab("exposure-token-flag", ["--api-token", token], env={"LAB_API_TOKEN": None})
    else:
        lab = start_lab("exposure-token-env", env={"LAB_API_TOKEN": token})
    try:
        check_token_required(lab, token)
    finally:
        terminate(lab)


def test_without_a_token_post_needs_no_authorization():
    lab = start_lab("exposure-no-token", env={"LAB_API_TOKEN": None})
    try:
        response = requests.post(lab.base_url + "/patterns/gather/runs?wait=5", json={"count": 1, "delay_ms": 1},
                                 timeout=10)
        assert response.status_code == 200, response.text
    finally:
        terminate(lab)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_empty_token_is_refused_or_means_no_token(how):
    """An empty value (as `LAB_API_TOKEN=${UNSET}` gives) must not become a token anyone can
    send: serve refuses it at start, or runs without a token."""
    try:
        lab = start_lab(f"exposure-empty-token-{how}", ["--api-token", ""] if how == "flag" else [],
                        env={"LAB_API_TOKEN": ""} if how == "env" else None, timeout=20)
    except RuntimeError as error:  # refused at start: what we want, with a message
        assert "token" in str(error).lower(), error
        return
    try:
        response = requests.post(lab.base_url + "/patterns/gather/runs?wait=5", json={"count": 1, "delay_ms": 1},
                                 timeout=10)
        assert response.status_code == 200, f"{response.status_code}: an empty token was taken as a token"
    finally:
        terminate(lab)
