"""What the tests do on the page, by the stable hooks it exposes (data-tid, ids)."""

import json

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
TIMEOUT = 60  # generous: the machine is shared with Swift compilers


def css(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def tid(name):
    return f'[data-testid="{name}"]'


def click(driver, element):
    """Clicks `element` once it is scrolled to the middle of the viewport, clear of the top bar."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def wait(driver, timeout=TIMEOUT, poll=0.1):
    """A wait whose condition is asked again when an element it read was re-rendered meanwhile
    (the page replaces the run panel when a run starts): a stale element is not an answer."""
    return WebDriverWait(driver, timeout, poll_frequency=poll, ignored_exceptions=(StaleElementReferenceException,))


def wait_for(driver, selector, timeout=TIMEOUT):
    return wait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))


def wait_visible(driver, selector, timeout=TIMEOUT):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def open_page(driver, base_url, hash_path="/"):
    driver.get(f"{base_url}/#{hash_path}")
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")


def open_pattern(driver, base_url, name):
    open_page(driver, base_url, f"/patterns/{name}")
    wait_for(driver, f'[data-testid="pattern-detail"][data-pattern="{name}"] {tid("param-form")}')


def fill(driver, values):
    for name, value in values.items():
        control = css(driver, f"#param-{name}")
        if control.get_attribute("type") == "checkbox":
            if control.is_selected() != bool(value):
                control.click()
        elif control.tag_name == "select":
            control.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
        else:
            control.clear()
            control.send_keys(", ".join(map(str, value)) if isinstance(value, list) else str(value))


def launch(driver, values=None, expect_run=True):
    """Fills the form, presses Run, and (by default) waits for the new run's panel."""
    previous = [p.get_attribute("data-run-id") for p in all_css(driver, tid("run-panel"))]
    fill(driver, values or {})
    click(driver, css(driver, tid("run-button")))
    if not expect_run:
        return None
    wait(driver).until(lambda d: any(p.get_attribute("data-run-id") not in previous
                                     for p in all_css(d, tid("run-panel"))))
    return css(driver, tid("run-panel")).get_attribute("data-run-id")


def run_status(driver):
    return css(driver, tid("run-status")).get_attribute("data-status")


def wait_until_finished(driver, timeout=TIMEOUT):
    wait(driver, timeout).until(lambda d: run_status(d) in TERMINAL)
    # The stream closes after run.finished; the indicator says so.
    wait(driver, timeout).until(lambda d: css(d, tid("connection")).get_attribute("data-state") == "closed")
    return run_status(driver)


def bars(driver):
    return all_css(driver, f'{tid("timeline")} .tl-bar')


def checks(driver):
    return [(c.get_attribute("data-name"), c.get_attribute("data-passed")) for c in all_css(driver, tid("check"))]


def raw_run(driver):
    """The run document as the page shows it under "Raw JSON"."""
    toggle = css(driver, tid("raw-json-toggle"))
    if toggle.get_attribute("open") is None:
        toggle.find_element(By.TAG_NAME, "summary").click()
    # Visible as soon as the details open; filled by the toggle event right after.
    wait_visible(driver, tid("raw-json"))
    return json.loads(wait(driver).until(lambda d: css(d, tid("raw-json")).text.strip() or None))


def severe_console_entries(driver, allowed_statuses=()):
    """Console errors, except "Failed to load resource" for statuses a test provoked on purpose."""
    entries = driver.console_errors()
    return [e for e in entries
            if not any(f"status of {status}" in e.get("message", "") for status in allowed_statuses)]
