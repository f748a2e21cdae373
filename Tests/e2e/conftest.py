"""Fixtures for the browser tests: the server under test and a headless Chromium.

The server is `$LAB_BINARY serve --host 127.0.0.1 --port 0 --db :memory:` (LAB_BINARY is set
by Tests/e2e/run.sh; .build/release/concurrency-lab otherwise). The tests marked mock_only start
mock_server.py themselves, for the faults a real server cannot be made to show.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import console_errors, make_driver  # noqa: E402
from lab_server import OUTPUT, start_server  # noqa: E402


# Modules whose tests stop, kill or starve processes on a timetable (PostgreSQL restarted under
# a cluster, leases let lapse, descriptors and in-flight permits exhausted, signals, slow-client
# timeouts), or compare a run's elapsed time with a program's to a few milliseconds (the seed
# tutorials): Tests/e2e/run.sh runs them alone, after the rest has run on two workers, so another
# test's load never moves their timing.
SERIAL_MODULES = {
    "test_cluster", "test_descriptor_exhaustion", "test_instances", "test_overload", "test_signals",
    "test_slow_clients", "test_store_restart", "test_tutorials",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "mock_only: needs the mock server's deliberate faults (the test starts the mock itself)")
    config.addinivalue_line(
        "markers", "serial: runs alone, not beside other tests (see SERIAL_MODULES in conftest.py)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[2] in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(scope="session")
def lab():
    server = start_server("server")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(lab):
    return lab.base_url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _driver(request, width, height):
    driver = make_driver(width, height)
    driver.console_errors = lambda: console_errors(driver)
    yield driver
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        OUTPUT.mkdir(exist_ok=True)
        driver.save_screenshot(str(OUTPUT / f"FAILED-{request.node.name}.png"))
        (OUTPUT / f"FAILED-{request.node.name}.console.txt").write_text(
            "\n".join(str(entry) for entry in driver.get_log("browser")))
    driver.quit()


@pytest.fixture
def driver(request):
    """Headless Chromium at laptop size (1280x900), console captured (goog:loggingPrefs)."""
    yield from _driver(request, 1280, 900)


@pytest.fixture
def phone_driver(request):
    """Headless Chromium at a phone's width (390x844)."""
    yield from _driver(request, 390, 844)


def pytest_report_header(config):
    return f"server under test: {os.environ.get('LAB_BINARY') or '.build/release/concurrency-lab (LAB_BINARY unset)'}"
