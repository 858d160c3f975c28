"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# itself (fixtures, assertions) are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}: install it (apt-get install chromium) "
            "or set CHROMIUM=/path/to/chromium; `make test` installs it when run as root."
        )
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _session(browser, live_server):
    """A browser session of its own (cookies, downloads) on the live server."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    return context, page


@pytest.fixture
def page(browser, live_server):
    context, page = _session(browser, live_server)
    yield page
    context.close()


@pytest.fixture
def second_page(browser, live_server):
    """A second session, for the other side (a factory, a branch) of the same test."""
    context, page = _session(browser, live_server)
    yield page
    context.close()


def submit(page, locator) -> None:
    """Click and wait for the page the click leads to."""
    with page.expect_navigation():
        locator.click()
    page.wait_for_load_state("load")


def screenshot(page, name: str) -> None:
    """Save a screenshot for the README's tour."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def login(page, username: str, password: str = "waybill-demo") -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
