"""The browser page in real headless Chromium, against the server under test.

Every wait is explicit (WebDriverWait); nothing sleeps to synchronise.
"""

import json
import shlex
import subprocess
import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lab_server import OUTPUT, start_server
from page import (
    all_css, bars, checks, click, css, launch, open_page, open_pattern, raw_run, run_status,
    severe_console_entries, tid, wait, wait_for, wait_until_finished, wait_visible,
)

SEMAPHORE = {"count": 10, "limit": 3, "delay_ms": 400}

# A pattern's detail as the user sees it: its texts (rendered, trimmed; "" when not displayed,
# as Selenium's .text) and, for each parameter named in arguments[1], its control and label
# (null when the control is missing).
DETAIL_AS_SHOWN = """
const detail = arguments[0];
const text = (el) => el ? (el.checkVisibility() ? el.innerText.trim() : "") : null;
const one = (testid) => detail.querySelector(`[data-testid="${testid}"]`);
const params = {};
for (const name of arguments[1]) {
  const control = detail.querySelector(`#param-${CSS.escape(name)}`);
  const label = detail.querySelector(`label[for="param-${CSS.escape(name)}"]`);
  params[name] = control && {
    label: text(label), tag: control.tagName.toLowerCase(), type: control.getAttribute("type"),
    min: control.getAttribute("min"), max: control.getAttribute("max"), value: control.value,
    checked: control.checked, options: control.options ? [...control.options].map((o) => o.value) : null,
  };
}
return {
  title: text(one("pattern-title")), asyncio: text(one("asyncio")), swift: text(one("swift")),
  swift_note: text(one("swift-note")),
  invariants: [...detail.querySelectorAll('[data-testid="invariants"] li')].map(text),
  params,
};
"""


def test_catalog_lists_every_pattern_with_its_constructs_and_form(driver, lab, base_url):
    catalog = lab.get_json("/patterns")["patterns"]
    names = [entry["name"] for entry in catalog]
    # The catalog's own contents are checked by test_cli.py and the Swift catalog tests; here,
    # that the page shows every entry the server lists (the mock lists fewer).
    assert len(set(names)) == len(names) >= 12

    open_page(driver, base_url, "/")
    wait(driver).until(lambda d: len(all_css(d, tid("pattern-card"))) == len(names))
    assert [c.get_attribute("data-pattern") for c in all_css(driver, tid("pattern-card"))] == names
    assert [a.get_attribute("data-pattern") for a in all_css(driver, tid("pattern-link"))] == names

    for entry in catalog:
        css(driver, f'{tid("pattern-link")}[data-pattern="{entry["name"]}"]').click()
        detail = wait_for(driver, f'{tid("pattern-detail")}[data-pattern="{entry["name"]}"]')
        # What the detail shows, read in one script (one WebDriver round trip per pattern
        # instead of one per attribute: this test took 55 s that way).
        shown = driver.execute_script(DETAIL_AS_SHOWN, detail, [param["name"] for param in entry["parameters"]])
        assert shown["title"] == entry["title"]
        assert shown["asyncio"] == entry["asyncio"]
        assert shown["swift"] == entry["swift"]
        assert shown["invariants"] == entry["invariants"]
        if entry.get("swift_note"):
            assert entry["swift_note"] in (shown["swift_note"] or "")
        for param in entry["parameters"]:
            control = shown["params"][param["name"]]
            assert control is not None, f'{entry["name"]}: no control #param-{param["name"]}'
            assert control["label"] == param["name"]
            if param["type"] == "integer":
                assert control["type"] == "number"
                assert control["min"] == str(param["min"])
                assert control["max"] == str(param["max"])
                assert control["value"] == ("" if param["default"] is None else str(param["default"]))
            elif param["type"] == "boolean":
                assert control["type"] == "checkbox"
                assert control["checked"] == param["default"]
            elif param.get("choices"):
                assert control["tag"] == "select"
                assert control["options"] == param["choices"]
            elif param["type"] == "integer_list":
                expected = "" if param["default"] is None else ", ".join(map(str, param["default"]))
                assert control["value"] == expected
    assert severe_console_entries(driver) == []


def test_semaphore_run_is_watched_live_then_every_check_passes(driver, base_url):
    open_pattern(driver, base_url, "semaphore")
    run_id = launch(driver, SEMAPHORE)

    # Live: bars appear and grow while the run is still going (about 1.6 s).
    wait(driver, poll=0.05).until(lambda d: run_status(d) in ("running", "succeeded"))
    wait(driver, poll=0.05).until(lambda d: len(bars(d)) > 0)
    assert wait_until_finished(driver) == "succeeded"
    panel = css(driver, tid("run-panel"))
    assert panel.get_attribute("data-run-id") == run_id
    assert int(panel.get_attribute("data-live-renders") or 0) > 0, "the timeline was never drawn while running"
    assert "live" in css(driver, tid("connection")).get_attribute("data-seen").split()

    assert len(bars(driver)) == SEMAPHORE["count"]
    assert {b.get_attribute("data-task") for b in bars(driver)} == {str(i) for i in range(SEMAPHORE["count"])}
    assert not all_css(driver, f'{tid("timeline")} .tl-bar.tl-running')
    results = checks(driver)
    assert results and all(passed == "true" for _, passed in results), results
    assert css(driver, tid("checks")).get_attribute("data-state") == "passed"
    progress = css(driver, tid("progress"))
    assert progress.get_attribute("data-completed") == progress.get_attribute("data-total") == str(SEMAPHORE["count"])
    assert css(driver, tid("legend-ok")).text.split()[-1] == str(SEMAPHORE["count"])
    assert all_css(driver, f'{tid("result")} .figure'), "no result figures"
    assert css(driver, tid("cancel-button")).is_displayed() is False

    # A click (or tap) on a bar spells out what its tooltip says.
    first = css(driver, f'{tid("timeline")} .tl-bar[data-task="0"]')
    click(driver, first)
    wait(driver).until(lambda d: "ok" in css(d, tid("timeline-detail")).text)
    assert css(driver, tid("timeline-detail")).text.startswith(first.find_element(By.TAG_NAME, "title").get_attribute("textContent").split(" ")[0])

    # The chart follows the window: narrower, it is redrawn with every bar still there.
    svg_width = css(driver, tid("timeline-svg")).get_attribute("width")
    driver.set_window_size(1000, 900)
    wait(driver).until(lambda d: css(d, tid("timeline-svg")).get_attribute("width") != svg_width)
    assert len(bars(driver)) == SEMAPHORE["count"]
    driver.set_window_size(1280, 900)

    document = raw_run(driver)
    assert document["id"] == run_id and document["status"] == "succeeded"
    assert document["params"]["count"] == SEMAPHORE["count"]

    OUTPUT.mkdir(exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(OUTPUT / "semaphore-finished.png"))
    css(driver, tid("run-panel")).screenshot(str(OUTPUT / "semaphore-finished-panel.png"))
    assert severe_console_entries(driver) == []


def test_out_of_range_value_is_refused_at_its_field(driver, base_url):
    open_pattern(driver, base_url, "semaphore")
    launch(driver, {"count": 0}, expect_run=False)
    error = wait_visible(driver, tid("field-error-count"))
    assert "must be an integer from 1 to 100000" in error.text
    assert css(driver, "#param-count").get_attribute("aria-invalid") == "true"
    assert driver.switch_to.active_element == css(driver, "#param-count")
    assert not all_css(driver, tid("run-panel")), "an invalid form must not launch a run"

    # Fixing the value clears the message as the user types.
    css(driver, "#param-count").clear()
    css(driver, "#param-count").send_keys("5")
    wait(driver).until(lambda d: not css(d, tid("field-error-count")).is_displayed())
    assert severe_console_entries(driver) == []


def test_server_validation_errors_are_shown_where_they_belong(driver, base_url):
    # In range alone, out of range together: only the server knows; it names the field.
    open_pattern(driver, base_url, "task-group")
    launch(driver, {"count": 5, "fail_index": 7}, expect_run=False)
    error = wait_visible(driver, tid("field-error-fail_index"))
    assert error.text, "the server's message is shown at fail_index"
    assert css(driver, "#param-fail_index").get_attribute("aria-invalid") == "true"
    assert not all_css(driver, tid("run-panel"))

    # A `params` error (the planned duration is too long) is shown above the form.
    open_pattern(driver, base_url, "semaphore")
    launch(driver, {"count": 100000, "limit": 1, "delay_ms": 60000}, expect_run=False)
    form_error = wait_visible(driver, tid("form-error"))
    assert "planned duration" in form_error.text
    assert not all_css(driver, f'{tid("param-form")} .field-error:not([hidden])')
    assert severe_console_entries(driver, allowed_statuses=(422,)) == []


def test_cancel_stops_a_long_run(driver, base_url):
    open_pattern(driver, base_url, "semaphore")
    launch(driver, {"count": 20, "limit": 1, "delay_ms": 2000})  # 40 s if left alone
    wait(driver).until(lambda d: run_status(d) == "running" and len(bars(d)) >= 1)
    click(driver, wait_visible(driver, tid("cancel-button")))
    assert wait_until_finished(driver, timeout=30) == "cancelled"
    assert not css(driver, tid("cancel-button")).is_displayed()
    assert all_css(driver, f'{tid("timeline")} .tl-bar.tl-cancelled'), "the interrupted task shows as cancelled"
    assert raw_run(driver)["status"] == "cancelled"
    assert severe_console_entries(driver) == []


def test_history_lists_runs_filters_pages_and_opens_one(driver, lab, base_url):
    semaphore = lab.post_json("/patterns/semaphore/runs?wait=30", {"count": 4, "limit": 2, "delay_ms": 50})
    gathers = [lab.post_json("/patterns/gather/runs?wait=30", {"count": 3, "delay_ms": 0}) for _ in range(22)]

    open_page(driver, base_url, "/runs")
    wait(driver).until(lambda d: len(all_css(d, tid("history-row"))) > 0)
    ids = [row.get_attribute("data-run-id") for row in all_css(driver, tid("history-row"))]
    assert ids[0] == gathers[-1]["id"], "newest first"

    css(driver, f'{tid("history-pattern")} option[value="gather"]').click()
    wait(driver).until(lambda d: "pattern=gather" in d.current_url)
    wait(driver).until(lambda d: len(all_css(d, tid("history-row"))) == 20)
    assert all(r.find_element(By.CSS_SELECTOR, ".history-pattern").text == "gather"
               for r in all_css(driver, tid("history-row")))
    more = wait_visible(driver, tid("history-more"))
    more.click()
    wait(driver).until(lambda d: len(all_css(d, tid("history-row"))) >= 22)
    listed = [r.get_attribute("data-run-id") for r in all_css(driver, tid("history-row"))]
    assert len(listed) == len(set(listed)), "load more must not repeat runs"
    assert {g["id"] for g in gathers} <= set(listed)

    css(driver, f'{tid("history-status-filter")} option[value="interrupted"]').click()
    wait_visible(driver, tid("history-empty"))
    assert not all_css(driver, tid("history-row"))

    css(driver, f'{tid("history-pattern")} option[value="semaphore"]').click()
    css(driver, f'{tid("history-status-filter")} option[value="succeeded"]').click()
    row = wait_for(driver, f'{tid("history-row")}[data-run-id="{semaphore["id"]}"]')
    row.find_element(By.CSS_SELECTOR, "a").click()

    panel = wait_for(driver, f'{tid("run-panel")}[data-run-id="{semaphore["id"]}"]')
    assert run_status(driver) == "succeeded"
    wait(driver).until(lambda d: len(bars(d)) == 4)
    assert css(driver, "#param-count").get_attribute("value") == "4", "the form holds the run's parameters"
    assert panel.get_attribute("data-status") == "succeeded"
    wait(driver).until(lambda d: css(d, tid("connection")).get_attribute("data-state") == "closed")
    assert severe_console_entries(driver) == []


def test_form_works_from_the_keyboard(driver, lab, base_url):
    names = [p["name"] for p in lab.get_json("/patterns/gather-errors")["parameters"]]
    open_pattern(driver, base_url, "gather-errors")
    count = css(driver, "#param-count")
    count.click()
    count.send_keys(Keys.CONTROL, "a")
    count.send_keys("6")
    count.send_keys(Keys.TAB)  # Tab goes to the next parameter, in the catalog's order
    assert driver.switch_to.active_element == css(driver, f"#param-{names[names.index('count') + 1]}")
    indices = css(driver, "#param-fail_indices")
    indices.click()
    indices.send_keys(Keys.CONTROL, "a")
    indices.send_keys("1, 4")
    indices.send_keys(Keys.ENTER)  # implicit submission
    wait_for(driver, tid("run-panel"))
    wait_until_finished(driver)
    params = raw_run(driver)["params"]
    assert params["count"] == 6 and params["fail_indices"] == [1, 4]
    assert severe_console_entries(driver) == []


def test_deep_links_open_patterns_and_runs(driver, lab, base_url):
    run = lab.post_json("/patterns/timeout/runs?wait=30", {"operation_ms": 300, "timeout_ms": 100})
    open_page(driver, base_url, f"/runs/{run['id']}")
    wait_for(driver, f'{tid("run-panel")}[data-run-id="{run["id"]}"]')
    assert css(driver, tid("pattern-detail")).get_attribute("data-pattern") == "timeout"
    wait(driver).until(lambda d: len(bars(d)) == len(run["timeline"]["spans"]))

    open_page(driver, base_url, "/patterns/lock")
    wait_for(driver, f'{tid("pattern-detail")}[data-pattern="lock"] {tid("run-empty")}')

    open_page(driver, base_url, "/runs/no-such-run")
    wait_for(driver, tid("not-found"))
    assert severe_console_entries(driver, allowed_statuses=(404,)) == []


def test_copy_as_curl_gives_the_command_for_the_same_run(driver, base_url):
    open_pattern(driver, base_url, "semaphore")
    launch(driver, {"count": 3, "limit": 2, "delay_ms": 10})
    wait_until_finished(driver)
    click(driver, css(driver, tid("copy-curl-run")))
    command = wait_visible(driver, tid("curl-command")).text
    params = raw_run(driver)["params"]
    expected = (f"curl -s -X POST '{base_url}/patterns/semaphore/runs?wait=30' "
                f"-H 'Content-Type: application/json' -d '{json.dumps(params, separators=(',', ':'))}'")
    assert command == expected
    if shutil.which("curl"):
        output = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=True)
        again = json.loads(output.stdout)
        assert again["pattern"] == "semaphore" and again["params"] == params and again["status"] == "succeeded"
    assert severe_console_entries(driver) == []


def test_large_run_is_compressed_and_truncation_is_said(driver, lab, base_url):
    count = 20_000
    run = lab.post_json("/patterns/gather/runs?wait=60", {"count": count, "delay_ms": 50})
    assert run["status"] == "succeeded"
    open_page(driver, base_url, f"/runs/{run['id']}")
    wait_for(driver, f'{tid("timeline")}[data-rows]')
    wait(driver).until(lambda d: css(d, tid("connection")).get_attribute("data-state") == "closed")
    chart = css(driver, tid("timeline"))
    assert int(chart.get_attribute("data-group")) > 1, "rows are shared when there are thousands of tasks"
    assert int(chart.get_attribute("data-rows")) <= 300
    if run["timeline"].get("truncated"):
        assert wait_visible(driver, tid("timeline-truncated")).text.startswith("Timeline truncated")
    ok = run["timeline"].get("outcomes", {}).get("ok", count)
    assert css(driver, tid("legend-ok")).text.split()[-1] == f"{ok:,}"
    assert severe_console_entries(driver) == []


def test_page_is_usable_at_phone_width(phone_driver, base_url):
    driver = phone_driver
    open_pattern(driver, base_url, "event")
    launch(driver, {"waiters": 4, "set_after_ms": 200})
    assert wait_until_finished(driver) == "succeeded"
    assert len(bars(driver)) == len(raw_run(driver)["timeline"]["spans"]) >= 4
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    OUTPUT.mkdir(exist_ok=True)
    css(driver, tid("run-panel")).screenshot(str(OUTPUT / "phone-event-finished.png"))
    assert severe_console_entries(driver) == []


@pytest.fixture
def dropping_mock():
    server = start_server("mock-dropping", mock_args=("--drop-after", "6"))
    yield server
    server.stop()


@pytest.mark.mock_only
def test_stream_reconnects_after_drops_without_losing_or_repeating_events(driver, dropping_mock):
    open_pattern(driver, dropping_mock.base_url, "semaphore")
    launch(driver, {"count": 8, "limit": 4, "delay_ms": 300})
    assert wait_until_finished(driver) == "succeeded"
    seen = css(driver, tid("connection")).get_attribute("data-seen").split()
    assert "reconnecting" in seen, seen
    assert len(bars(driver)) == 8
    legend = css(driver, f'{tid("timeline-legend")} [data-event="semaphore.acquired"]').text
    assert legend.split()[-1] == "8", "each event applied exactly once across reconnections"
    assert severe_console_entries(driver) == []


@pytest.fixture
def streamless_mock():
    server = start_server("mock-streamless", mock_args=("--events-status", "503"))
    yield server
    server.stop()


@pytest.mark.mock_only
def test_without_an_event_stream_the_page_falls_back_to_polling(driver, streamless_mock):
    open_pattern(driver, streamless_mock.base_url, "semaphore")
    launch(driver, {"count": 6, "limit": 3, "delay_ms": 300})
    wait(driver).until(lambda d: "reconnecting" in css(d, tid("connection")).get_attribute("data-seen").split())
    assert wait_until_finished(driver) == "succeeded"
    assert len(bars(driver)) == 6
    assert all(passed == "true" for _, passed in checks(driver))
    unexpected = [e for e in severe_console_entries(driver, allowed_statuses=(503,))
                  if "EventSource" not in e.get("message", "")]
    assert unexpected == []


def test_page_helpers_in_the_browser(driver, base_url):
    """The page's pure helpers, imported as the page imports them (no Node needed)."""
    open_page(driver, base_url, "/")
    results = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([import('/js/timeline.js'), import('/js/form.js'), import('/js/format.js')])
          .then(([timeline, form, format]) => done({
            steps: [0.7, 3, 7, 40, 180, 999].map(timeline.niceStep),
            ten: timeline.layoutRows(10),
            many: timeline.layoutRows(10000),
            lists: ['300, 100,200', '1,,2', ' 7 ', 'a'].map(form.parseIntegerList),
            bounds: form.boundsMessage({type: 'integer', min: 1, max: 100000}),
            curl: format.curlCommand('http://h:1', 'lock', {note: "it's"}),
            ms: [0.25, 701.23, 12345.6].map(format.ms),
            values: [[1, 0, 2], [], {done: [1], pending: [0, 2]}, 12.5].map((v) => format.value(v, 'x')),
            timed: format.value(300, 'last_end_ms'),
          }))
          .catch((error) => done({error: String(error)}));
    """)
    assert "error" not in results, results
    assert results["steps"] == [1, 5, 10, 50, 200, 1000]
    assert results["ten"] == {"group": 1, "rows": 10, "rowHeight": 22}
    assert results["many"]["group"] > 1 and results["many"]["rows"] * results["many"]["group"] >= 10000
    assert results["lists"] == [[300, 100, 200], None, [7], None]
    assert results["bounds"] == "must be an integer from 1 to 100000"
    assert results["curl"] == ("curl -s -X POST 'http://h:1/patterns/lock/runs?wait=30' "
                               "-H 'Content-Type: application/json' -d '{\"note\":\"it'\\''s\"}'")
    assert results["ms"] == ["0.3 ms", "701 ms", "12,346 ms"]
    assert results["values"] == ["1, 0, 2", "none", "done: 1 · pending: 0, 2", "12.5"]
    assert results["timed"] == "300 ms"
    assert severe_console_entries(driver) == []
