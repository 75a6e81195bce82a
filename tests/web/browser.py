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


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# The brief asks for no serious or critical violation; the pages have none of any impact, and a
# new minor one (an empty table header, content outside landmarks) should be noticed too.
BLOCKING_IMPACTS = ("critical", "serious", "moderate", "minor")


def horizontal_overflow(page: object) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when nothing scrolls sideways)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def axe_violations(page: object) -> list[str]:
    """axe-core's violations (``BLOCKING_IMPACTS``) on the current page, one line each.

    The script is evaluated through the DevTools protocol, which the site's strict CSP (no inline
    script) does not govern; nothing is added to the page's own markup.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
