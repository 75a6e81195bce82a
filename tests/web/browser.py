"""Browser test helpers: where Chromium is, how to log in, page checks (overflow, axe-core)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-screenshots"
PASSWORD = "a-long-test-password-42"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def log_in(page: object, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:text('Worklist')")
