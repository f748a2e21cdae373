#!/usr/bin/env python3
"""Screenshots of the page at laptop and phone widths, for a person to look at.

    .venv/bin/python Tests/e2e/screenshots.py [BASE_URL]

Without BASE_URL it starts the server the tests use ($LAB_BINARY, or the release build). Writes PNGs
to Tests/e2e/output/ and prints their paths, plus any browser console errors.
"""

import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from browser import console_errors, make_driver
from lab_server import OUTPUT, start_server


def wait_css(driver, css, timeout=30):
    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def finished(driver, timeout=60):
    WebDriverWait(driver, timeout).until(lambda d: d.find_element(
        By.CSS_SELECTOR, "[data-testid=run-panel]").get_attribute("data-status") in ("succeeded", "failed", "cancelled"))
    WebDriverWait(driver, timeout).until(lambda d: d.find_element(
        By.CSS_SELECTOR, "[data-testid=connection]").get_attribute("data-state") == "closed")


def launch(driver, base, pattern, values, expect_run=True):
    driver.get(f"{base}/#/patterns/{pattern}")
    wait_css(driver, "[data-testid=param-form]")
    for name, value in values.items():
        field = driver.find_element(By.ID, f"param-{name}")
        if field.tag_name == "select":
            field.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
        else:
            field.clear()
            field.send_keys(str(value))
    button = driver.find_element(By.CSS_SELECTOR, "[data-testid=run-button]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    if expect_run:
        wait_css(driver, "[data-testid=run-panel]")


def shoot(driver, name, full=True):
    path = OUTPUT / f"{name}.png"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        width = driver.execute_script("return window.innerWidth")
        driver.set_window_size(width, max(900 if width > 600 else 800, height))
        driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    print(path)


SCENARIOS = [
    ("semaphore", {"count": 10, "limit": 3, "delay_ms": 300}),
    ("task-group", {}),
    ("producer-consumer", {}),
    ("blocking-offload", {"mode": "inline"}),
    ("gather", {"count": 20000, "delay_ms": 300, "jitter_ms": 700}),
]


def shoot_width(base, label, width, height, dark=False):
    driver = make_driver(width, height, dark=dark)
    try:
        driver.get(base + "/")
        wait_css(driver, "[data-testid=pattern-card]")
        shoot(driver, f"{label}-overview")
        driver.set_window_size(width, height)
        # Live: a slow semaphore caught mid-run.
        launch(driver, base, "semaphore", {"count": 12, "limit": 4, "delay_ms": 1500})
        WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".tl-bar")) >= 6)
        shoot(driver, f"{label}-live", full=False)
        for pattern, values in SCENARIOS:
            driver.set_window_size(width, height)
            launch(driver, base, pattern, values)
            finished(driver)
            shoot(driver, f"{label}-{pattern}")
        driver.set_window_size(width, height)
        launch(driver, base, "semaphore", {"count": 0}, expect_run=False)
        wait_css(driver, "[data-testid=field-error-count]:not([hidden])")
        shoot(driver, f"{label}-field-error", full=False)
        driver.set_window_size(width, height)
        driver.get(base + "/#/runs")
        wait_css(driver, "[data-testid=history-row]")
        shoot(driver, f"{label}-history")
        for entry in console_errors(driver):
            print("CONSOLE", entry)
    finally:
        driver.quit()


def main():
    server = None
    base = sys.argv[1] if len(sys.argv) > 1 else None
    if not base:
        server = start_server("screenshots")
        base = server.base_url
    OUTPUT.mkdir(exist_ok=True)
    try:
        shoot_width(base, "laptop", 1280, 900)
        shoot_width(base, "phone", 390, 844)
        shoot_width(base, "dark", 1280, 900, dark=True)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
