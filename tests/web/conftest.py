"""Browser fixtures: Debian's Chromium driven by Playwright against the live test server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.web.browser import CHROMIUM, FLAGS


@pytest.fixture
def chromium(monkeypatch) -> Iterator[object]:
    """One headless Chromium for the test; pages come from ``new_page``."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: .ci/run installs it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium) -> Callable[..., object]:
    """``new_page(viewport=..., **context_options)``: a page in a fresh browser context (own cookies);
    the options are Playwright's (``has_touch``, ``java_script_enabled``...)."""

    def make(viewport: dict[str, int] | None = None, **options: object) -> object:
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 900}, **options)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    return make


@pytest.fixture
def browser_page(new_page) -> object:
    return new_page()
