"""The main pages in a real Chromium under the Content-Security-Policy: nothing is refused
(the open_page fixture fails the test on any violation), and what runs by script still
works: the room's live chat, Copy buttons, confirmations, the API documentation."""

from __future__ import annotations

import re

from tests.browsing import (  # noqa: F401  (the *_fixture names are fixtures)
    BROWSER_MARKS,
    DESKTOP,
    browser_fixture,
    expect,
    log_in,
    one_database_fixture,
    open_page_fixture,
)
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tests.statuspage_world import build_page, publish
from tocsin.auth.models import User
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate

pytestmark = BROWSER_MARKS

MAIN_PAGES = [
    ("/incidents", "Incidents"),
    ("/incidents/INC-1", "Card payments fail"),
    ("/alerts", "Alerts"),
    ("/oncall", "Who is on call"),
    ("/status-pages", "Status pages"),
    ("/services", "Services"),
    ("/teams", "Teams"),
    ("/admin/users", "Users"),
    ("/settings", "API tokens"),
]


def test_the_main_pages_run_under_the_policy_and_their_script_works(
    db, admin, one_database, open_page
):
    with db.begin() as session:
        data = IncidentCreate(summary="Card payments fail", severity="SEV1")
        incidents.declare_incident(session, session.get(User, admin.id), data)
    world = build_page(db, admin)
    publish(db, admin, world, "API errors", {world.api: "major_outage"})

    page = open_page(DESKTOP)
    answer = page.goto("/login")
    assert "script-src 'self' 'nonce-" in answer.headers["content-security-policy"]
    log_in(page, admin)
    for path, text in MAIN_PAGES:
        page.goto(path)
        expect(page.locator("main")).to_contain_text(text)

    # The room's chat (fetch from room.js) sends and shows without a reload.
    page.goto("/incidents/INC-1/room")
    page.get_by_label("Message").fill("Rolling back payments.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.mine .message-body")).to_have_text("Rolling back payments.")

    # A token is shown once with a Copy button (added by tocsin.js) that copies it.
    page.goto("/settings")
    page.get_by_placeholder(re.compile("What uses it")).fill("deploy script")
    page.get_by_role("button", name="Create token").click()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator("#new-token + button.copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").startswith("tsn_")

    # A confirmation asked by script (data-confirm): declining keeps the token.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke").first.click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(1)

    # Swagger UI starts from its file (its bundle and api-docs.js, no inline script) and
    # draws into its container. (Swagger UI 4.15 of swagger-ui-bundle then says it cannot
    # read OpenAPI 3.1; that is its version, not the policy.)
    page.goto("/docs")
    expect(page.locator("#swagger-ui .swagger-ui")).to_be_attached()

    # An error page's "Go back" returns to where one came from.
    page.goto("/incidents")
    page.goto("/incidents/INC-999")
    page.get_by_role("link", name="Go back").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))

    # The public status page and its subscribe form, without a login.
    public = open_page(DESKTOP)
    public.goto("/status/acme")
    expect(public.locator("main")).to_contain_text("API errors")
    public.goto("/status/acme/subscribe")
    public.get_by_label("Your email address").fill("reader@example.com")
    public.get_by_role("button", name=re.compile("Subscribe")).click()
    expect(public.locator("main")).to_contain_text("Check your inbox")
