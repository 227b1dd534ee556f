"""What every browser journey needs: headless Chromium through Playwright, a fresh context
per viewport, logging in through the form, screenshots kept as artifacts.

A test module imports the fixtures (`browser_fixture`, `one_database_fixture`,
`open_page_fixture`, and `live_server` from tests/live_server.py) and sets
`pytestmark = BROWSER_MARKS`. A module may set `BROWSER_TIME_ZONE` for its contexts (the
on-call pages show local times).

Every page opened through `open_page` is watched for Content-Security-Policy violations
(something the policy refused: an inline script, a handler, a foreign source); a test that
caused one fails when it ends, so the policy and the pages cannot drift apart unseen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, PASSWORD
from tocsin.auth.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt install chromium)"
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()


@pytest.fixture(name="one_database")
def one_database_fixture(db) -> None:
    """The browser journeys show the pages; the API and view tests cover both databases."""
    if not db.is_sqlite:
        pytest.skip("browser journeys run on SQLite only; the pages are the same on PostgreSQL")


# Chromium reports each refusal on the console too; this makes sure with the DOM's own event.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.violatedDirective} ` +
    `blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Content-Security-Policy" in m]


@pytest.fixture(name="open_page")
def open_page_fixture(request, browser, live_server):
    """A fresh browser context (its own cookies) at a viewport; closed after the test, which
    fails if any of its pages met a Content-Security-Policy violation."""
    contexts = []
    console: list[str] = []
    time_zone = getattr(request.module, "BROWSER_TIME_ZONE", None)

    def open_at(viewport: dict[str, int] = DESKTOP, phone: bool = False):
        context = browser.new_context(
            viewport=viewport,
            is_mobile=phone,
            has_touch=phone,
            base_url=live_server.url,
            color_scheme="light",
            **({"timezone_id": time_zone} if time_zone else {}),
        )
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on(
            "console",
            lambda message: console.append(
                f"{message.page.url if message.page else ''}: {message.text}"
            ),
        )
        contexts.append(context)
        return context.new_page()

    yield open_at
    for context in contexts:
        context.close()
    assert not csp_violations(console), "\n".join(csp_violations(console))


def log_in(page, user: User, then: str = "/incidents") -> None:
    page.goto(then)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(then) + "$"))


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_fits(page, width: int) -> None:
    """Nothing scrolls sideways."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide on a {width}px screen"


def flash(page):
    return page.locator(".flash")
