"""Postmortems in a real Chromium: two people edit the same section at once (the second keeps
their text beside the newer one), on a phone and a desk; then the published postmortem is
found on the blog by searching. Screenshots go to test-artifacts/."""

from __future__ import annotations

from tests.browsing import (  # noqa: F401  (the *_fixture names are fixtures)
    BROWSER_MARKS,
    DESKTOP,
    PHONE,
    assert_fits,
    browser_fixture,
    expect,
    flash,
    log_in,
    one_database_fixture,
    open_page_fixture,
    shoot,
)
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tocsin.auth.models import User
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, StatusChange
from tocsin.postmortems import service as postmortems
from tocsin.postmortems.schemas import PostmortemSave, StatusMove

pytestmark = BROWSER_MARKS


def test_an_edit_race_keeps_both_texts_and_the_blog_finds_the_published_one(
    db, make_user, admin, clock, one_database, open_page
):
    ines, tom = make_user(name="Ines Manager"), make_user(name="Tom Techlead")
    with db.begin() as session:
        actor = session.get(User, ines.id)
        data = IncidentCreate(summary="Card payments fail", severity="SEV1")
        key = incidents.declare_incident(session, actor, data).key
        incidents.change_status(session, actor, key, StatusChange(status="fixing"))
        incidents.change_status(
            session, actor, key, StatusChange(status="resolved", resolution_summary="Rolled back")
        )

    desk, phone = open_page(DESKTOP), open_page(PHONE, phone=True)
    log_in(desk, ines, f"/incidents/{key}/postmortem")
    log_in(phone, tom, f"/incidents/{key}/postmortem")
    for page in (desk, phone):  # both open the fault editor on version 1
        page.locator("#section-fault summary").click()
    desk.locator("#f-fault").fill("The connection pool was halved by release 4512.")
    desk.locator("#section-fault").get_by_role("button", name="Save").click()
    expect(flash(desk)).to_have_text("Fault saved (version 2).")
    phone.locator("#f-fault").fill("Tom: the pool ran dry under the Monday peak.")
    phone.locator("#section-fault").get_by_role("button", name="Save").click()
    expect(flash(phone)).to_contain_text("Ines Manager saved version 2 while you were editing")
    expect(phone.locator("#f-fault")).to_have_value("Tom: the pool ran dry under the Monday peak.")
    expect(phone.locator("#section-fault .pm-text")).to_have_text(
        "The connection pool was halved by release 4512."
    )
    assert_fits(phone, PHONE["width"])
    shoot(phone, "postmortem-race-phone")

    with db.begin() as session:
        writer, approver = session.get(User, ines.id), session.get(User, admin.id)
        complete = PostmortemSave(
            base_version=2,
            five_whys=[{"why": "Why did payments fail?", "answer": "The pool ran dry."}],
            root_cause="Release 4512 halved the connection pool without a load test.",
            root_cause_category="Change",
        )
        postmortems.save(session, writer, key, complete)
        postmortems.move(session, writer, key, StatusMove(status="in_review"))
        postmortems.move(session, approver, key, StatusMove(status="approved"))
        postmortems.move(session, writer, key, StatusMove(status="published"))

    desk.goto("/postmortems/blog")
    desk.get_by_label("Search").fill("load test")
    desk.get_by_role("button", name="Filter").click()
    entries = desk.locator("article.blog-entry")
    expect(entries).to_have_count(1)
    entries.get_by_role("link", name="Card payments fail").click()
    expect(desk.locator("#section-root_cause")).to_contain_text("without a load test")
    shoot(desk, "postmortem-blog-entry")
