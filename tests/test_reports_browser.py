"""Journey 8 in a real Chromium: the operator opens Admin → Health when pages seem late, on a
phone and on a desktop, and reads that the engine is behind and which sends fail; the
on-call reads their own failing notification and sends a test on a phone; the audit log
reads on a phone. Screenshots go to test-artifacts/."""

from __future__ import annotations

from tests.alerting import run_engine
from tests.browsing import (  # noqa: F401  (the *_fixture names are fixtures)
    BROWSER_MARKS,
    DESKTOP,
    PHONE,
    assert_fits,
    browser_fixture,
    expect,
    log_in,
    one_database_fixture,
    open_page_fixture,
    shoot,
)
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tocsin.auth.models import Role
from tocsin.config import Settings
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate

pytestmark = BROWSER_MARKS


def test_the_operator_sees_a_stalled_engine_and_failing_sends(
    db, admin, make_user, clock, smtp_server, one_database, open_page
):
    rita = make_user(name="Rita Responder")
    bob = make_user(Role.RESPONDER, name="Bob Builder", email="bob@example.com")
    with db.begin() as session:
        incident = incidents.declare_incident(
            session, rita, IncidentCreate(summary="Card payments fail", severity="SEV1")
        )
        incidents.page_responders(session, rita, incident.key, [{"kind": "user", "id": bob.id}])
    smtp_server.refusing = True
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    run_engine(db, settings)
    clock.advance(minutes=5)  # the retry falls due and no engine runs

    for name, viewport, phone in (("phone", PHONE, True), ("desktop", DESKTOP, False)):
        page = open_page(viewport, phone=phone)
        log_in(page, admin, then="/admin/health")
        alerts = page.get_by_role("alert")
        expect(alerts.filter(has_text="The engine is behind")).to_be_visible()
        expect(alerts.filter(has_text="1 notification is failing")).to_be_visible()
        problems = page.get_by_role("region", name="Deliveries that went wrong")
        expect(problems).to_contain_text("Bob Builder")
        expect(problems).to_contain_text("retrying")
        if phone:
            assert_fits(page, viewport["width"])
        shoot(page, f"health-{name}")


def test_the_on_call_sees_a_failing_notification_and_tests_their_contact_on_a_phone(
    db, admin, make_user, smtp_server, one_database, open_page
):
    bob = make_user(Role.RESPONDER, name="Bob Builder", email="bob@example.com")
    rita = make_user(name="Rita Responder")
    with db.begin() as session:
        incident = incidents.declare_incident(
            session, rita, IncidentCreate(summary="Card payments fail", severity="SEV1")
        )
        incidents.page_responders(session, rita, incident.key, [{"kind": "user", "id": bob.id}])
    smtp_server.refusing = True
    run_engine(db, Settings(database_url=db.url, smtp_url=smtp_server.url))

    page = open_page(PHONE, phone=True)
    log_in(page, bob, then="/settings/notifications")
    entry = page.locator(".entry", has_text="Card payments fail")
    expect(entry).to_contain_text("pending")
    expect(entry.locator(".entry-error")).to_contain_text("451")
    assert_fits(page, PHONE["width"])
    shoot(page, "phone-settings-notifications")

    admin_phone = open_page(PHONE, phone=True)
    log_in(admin_phone, admin, then="/admin/audit")
    expect(admin_phone.locator(".entry").first).to_be_visible()
    assert_fits(admin_phone, PHONE["width"])
    shoot(admin_phone, "phone-audit")
