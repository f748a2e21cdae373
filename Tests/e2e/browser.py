"""Headless Chromium through selenium, with the browser console captured."""

import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def make_driver(width=1280, height=900, dark=False):
    options = webdriver.ChromeOptions()
    if os.path.exists(CHROMIUM):
        options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    if dark:
        options.add_argument("--force-dark-mode")
        options.add_argument("--blink-settings=preferredColorScheme=0")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    if width < 500:
        # Chromium clamps --window-size to 500 px wide; resizing afterwards is honoured.
        driver.set_window_size(width, height)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def console_errors(driver):
    """Every SEVERE entry of the browser console since the last call (the log drains)."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
