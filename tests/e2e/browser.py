"""What the browser tests share: a headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium), logging in on the console page, and waiting for a text on it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from .running_app import RunningApp


def chromium() -> Iterator[WebDriver]:
    """A headless Chromium for one module (the modules' `browser` fixture)."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1100,1400"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: WebDriver, selector: str, pattern: str, timeout: float = 20) -> str:
    """Wait until the element's text matches `pattern`; its text. Read in the page in one go:
    the wallboard replaces its rows on every push, so a found element may be gone a moment
    later."""
    def read(d: WebDriver) -> str:
        return str(d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
            selector))

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: re.search(pattern, read(d)))
    return read(driver)


def log_in(driver: WebDriver, app: RunningApp, user: str, password: str,
           role: str = "agent") -> None:
    driver.delete_all_cookies()
    driver.get(app.base_url + "/console/")
    form = WebDriverWait(driver, 10).until(seen.visibility_of_element_located((By.ID, "login")))
    form.find_element(By.NAME, "user").send_keys(user)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_of(driver, "[data-test=who]", rf"{user} \({role}\)")
