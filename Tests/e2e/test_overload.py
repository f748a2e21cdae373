"""Overload gets a clear answer at once, never a queue or a hang.

- 10x the concurrent-run limit at once (`--max-concurrent-runs 8`, 80 POSTs of a ~1 s
  gather): the excess gets 429 with Retry-After at once, the admitted runs finish with
  their checks passing, and afterwards a new run is admitted.
- More concurrent long-polls than in-flight permits (`--max-in-flight 4`): the excess gets
  503 with Retry-After at once, and the server serves again once the polls end.

The latency bounds are deliberately generous (< 1 s on a loaded 2-core machine); the
measured figures are printed (pytest -s, or the captured output on failure).
"""

import statistics
import threading
import time

import pytest
import requests

from reliab import needs_binary, start_lab, wait_until

pytestmark = needs_binary


def fire_at_once(count, send):
    """Runs `send(i)` on `count` threads released together; returns [(result, latency_s)]."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(i):
        barrier.wait(timeout=30)
        started = time.monotonic()
        try:
            outcome = send(i)
        except Exception as error:  # noqa: BLE001 - recorded and asserted on below
            outcome = error
        results[i] = (outcome, time.monotonic() - started)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results), "a request did not finish within 60 s"
    return results


def figures(latencies):
    latencies = sorted(latencies)
    if not latencies:
        return "none"
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return (f"n={len(latencies)} min={latencies[0] * 1000:.1f} ms median={statistics.median(latencies) * 1000:.1f} ms "
            f"p90={pick(0.9) * 1000:.1f} ms max={latencies[-1] * 1000:.1f} ms")


def test_ten_times_the_run_limit_gets_429_at_once_and_admitted_runs_finish():
    lab = start_lab("overload-runs", ["--max-concurrent-runs", "8"])
    try:
        session_url = lab.base_url + "/patterns/gather/runs"

        def launch(_):
            return requests.post(session_url, json={"count": 4, "delay_ms": 1000}, timeout=30)

        results = fire_at_once(80, launch)
        errors = [outcome for outcome, _ in results if isinstance(outcome, Exception)]
        assert not errors, errors[:3]
        statuses = [outcome.status_code for outcome, _ in results]
        admitted = [outcome.json() for outcome, _ in results if outcome.status_code == 201]
        refused = [(outcome, latency) for outcome, latency in results if outcome.status_code == 429]
        assert set(statuses) <= {201, 429}, sorted(set(statuses))
        assert len(admitted) >= 8, statuses
        assert len(refused) >= 40, f"{len(refused)} refused of 80"
        for response, _ in refused:
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["status"] == 429
        latencies = [latency for _, latency in refused]
        print(f"\n429 latency: {figures(latencies)}; admitted {len(admitted)}, refused {len(refused)}")
        assert max(latencies) < 1.0, figures(latencies)

        for run in admitted:
            final = requests.get(f"{lab.base_url}/runs/{run['id']}?wait=30", timeout=40).json()
            assert final["status"] == "succeeded", final["status"]
            assert final["checks_passed"] is True, final["checks"]

        after = requests.post(session_url + "?wait=10", json={"count": 2, "delay_ms": 10}, timeout=30)
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "succeeded"
    finally:
        lab.stop()


def test_more_long_polls_than_in_flight_permits_get_503_at_once():
    lab = start_lab("overload-in-flight", ["--max-in-flight", "4"])
    try:
        run = requests.post(lab.base_url + "/patterns/gather/runs", json={"count": 1, "delay_ms": 30000},
                            timeout=10).json()
        url = f"{lab.base_url}/runs/{run['id']}?wait=5"
        polls = 16

        results = fire_at_once(polls, lambda _: requests.get(url, timeout=30))
        errors = [outcome for outcome, _ in results if isinstance(outcome, Exception)]
        assert not errors, errors[:3]
        refused = [(outcome, latency) for outcome, latency in results if outcome.status_code == 503]
        served = [outcome for outcome, _ in results if outcome.status_code != 503]
        assert len(served) <= 4, [outcome.status_code for outcome in served]
        assert len(refused) >= polls - 4
        for response, _ in refused:
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) >= 1
        for response in served:
            assert response.status_code in (200, 202), response.status_code
            assert response.json()["status"] == "running"
        latencies = [latency for _, latency in refused]
        held = [latency for outcome, latency in results if outcome.status_code != 503]
        print(f"\n503 latency: {figures(latencies)}; long-polls held for {figures(held)}")
        assert max(latencies) < 1.0, figures(latencies)

        # The permits came back: the server answers, and the run can be cancelled.
        wait_until(lambda: requests.get(lab.base_url + "/healthz", timeout=5).status_code == 200, timeout=15,
                   what="healthz 200 after the long-polls")
        assert requests.delete(f"{lab.base_url}/runs/{run['id']}", timeout=10).status_code == 202
    finally:
        lab.stop()
