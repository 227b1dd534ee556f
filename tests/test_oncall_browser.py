"""A real Chromium, driven by Playwright, through the on-call pages.

Journey 6 on a desktop: the team lead builds a weekly rotation with a weekday daytime
layer, covers a shift with an override by clicking it on the timeline, adds an
escalation policy and gives it to the service. Then the same pages on a phone.
Screenshots of the schedule page, "who is on call now" and "my on-call", on a phone
(390x844) and a desktop, are kept in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

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
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate, UserUpdate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate

BROWSER_TIME_ZONE = "Europe/Berlin"  # the pages show Lea's local times
pytestmark = BROWSER_MARKS


@pytest.fixture
def payments(db, make_user, admin, clock) -> dict[str, User]:
    """Lea leads the payments team (Bob, Cyd) from Berlin; the team owns Checkout API."""
    lead = make_user(Role.RESPONDER, name="Lea Lead")
    bob = make_user(Role.RESPONDER, name="Bob Builder")
    cyd = make_user(Role.RESPONDER, name="Cyd Carter")
    with db.begin() as session:
        auth.update_user(session, admin, lead.id, UserUpdate(time_zone="Europe/Berlin"))
        team = auth.create_team(
            session, admin, TeamCreate(name="Payments", member_ids=[lead.id, bob.id, cyd.id])
        )
        catalogue.create_service(
            session, admin, ServiceCreate(name="Checkout API", team_id=team.id)
        )
        catalogue.create_service(session, admin, ServiceCreate(name="Search"))
    return {"lead": lead, "bob": bob, "cyd": cyd}


def add_layer(page, name: str, turns: list[str], unit: str, weekdays: bool = False) -> None:
    form = page.locator("#add-layer")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label(re.compile("^Name")).fill(name)
    for n, person in enumerate(turns, start=1):
        form.get_by_label(f"Turn {n}", exact=True).select_option(label=person)
    form.get_by_label("Shift length").fill("1")
    form.get_by_label("Unit").select_option(unit)
    form.get_by_label("Handoff at").fill("09:00")
    form.get_by_label("First shift on").fill("2026-03-02")
    if weekdays:
        days = form.get_by_role("group", name="Days, window 1")
        for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
            days.locator("label", has_text=day).click()
        form.get_by_label("From, window 1").fill("09:00")
        form.get_by_label("To, window 1").fill("17:00")
    form.get_by_role("button", name="Add layer").click()
    expect(flash(page)).to_have_text(f"{name} is added on top.")


def test_the_team_lead_sets_up_on_call_and_covers_a_shift(one_database, open_page, payments, clock):
    lea = payments["lead"]
    page = open_page()
    log_in(page, lea, "/oncall")
    expect(page.locator(".oncall-row", has_text="Checkout API")).to_contain_text(
        "Alerts page nobody"
    )

    # A schedule, with a weekly rotation and a weekday daytime layer on top.
    page.get_by_role("link", name="Schedules", exact=True).click()
    page.get_by_label(re.compile("^Name")).fill("Payments primary")
    expect(page.get_by_label(re.compile("^Time zone"))).to_have_value("Europe/Berlin")
    page.get_by_label(re.compile("^Owning team")).select_option(label="Payments")
    page.get_by_role("button", name="Create schedule").click()
    expect(page).to_have_url(re.compile(r"/oncall/schedules/\d+#layers$"))
    add_layer(page, "Weekly", ["Bob Builder", "Cyd Carter"], "weeks")
    add_layer(page, "Office hours", ["Lea Lead"], "days", weekdays=True)
    expect(page.locator("#on-call-now")).to_have_text("Lea Lead")  # Monday 10:00 in Berlin
    expect(page.locator(".layer-name")).to_have_text(["Office hours", "Weekly"])
    expect(page.locator("#layers")).to_contain_text("Mon-Fri 09:00-17:00")

    # Bob's first evening, on the timeline: one click fills the override form.
    page.locator(".day.is-today .part", has_text="Bob").click()
    expect(page).to_have_url(re.compile(r"cover=.*#add-override$"))
    form = page.locator("#add-override")
    expect(form).to_contain_text("Covering Bob Builder's shift")
    expect(form.get_by_label(re.compile("^From"))).to_have_value("2026-03-02T17:00")
    expect(form.get_by_label("To", exact=True)).to_have_value("2026-03-03T09:00")
    form.get_by_label("Who is on call").select_option(label=f"Cyd Carter ({payments['cyd'].email})")
    form.get_by_label(re.compile("^Note")).fill("Bob has a school concert")
    form.get_by_role("button", name="Add override").click()
    expect(flash(page)).to_have_text("Cyd Carter is on call for that time.")
    expect(page.locator("#overrides")).to_contain_text("Bob has a school concert")
    evening = page.locator(".day.is-today .part.is-override")
    expect(evening).to_have_attribute("title", re.compile(r"^Cyd Carter: Mon Mar 02, 17:00"))
    shoot(page, "desktop-oncall-schedule")

    # An escalation policy: the schedule first, then the team lead; it pages for the service.
    page.get_by_role("link", name="Policies", exact=True).click()
    page.get_by_label(re.compile("^Name")).fill("Payments")
    page.get_by_label(re.compile("^Owning team")).select_option(label="Payments")
    page.get_by_role("button", name="Create policy").click()
    level = page.locator("#add-level")
    level.get_by_label(re.compile("^Minutes until the next level")).fill("5")
    level.get_by_label("Payments primary").check()
    level.get_by_role("button", name="Add level").click()
    expect(flash(page)).to_have_text("Level 1 is added.")
    page.locator("#add-level summary").click()
    level.get_by_label(re.compile("^Minutes until the next level")).fill("10")
    level.get_by_label("Lea Lead").check()
    level.get_by_role("button", name="Add level").click()
    expect(page.locator(".level-who")).to_have_text(
        [
            re.compile(r"On call in Payments primary\s+now: Lea Lead"),
            re.compile(r"Lea Lead\s+now: Lea Lead"),
        ]
    )
    page.get_by_label("Service to page through this policy").select_option(label="Checkout API")
    page.get_by_role("button", name="Use", exact=True).click()
    expect(flash(page)).to_have_text("Checkout API now pages through Payments.")

    page.get_by_role("link", name="Now", exact=True).click()
    checkout = page.locator(".oncall-row", has_text="Checkout API")
    expect(checkout.locator(".oncall-person")).to_have_text("Lea Lead")
    expect(checkout).to_contain_text("on call in Payments primary · until Mon Mar 02, 17:00")
    expect(page.locator(".oncall-row", has_text="Search")).to_contain_text("Alerts page nobody")
    shoot(page, "desktop-oncall-now")

    page.get_by_role("link", name="My on-call", exact=True).click()
    expect(page.locator(".my-shift").first).to_contain_text("on call now")
    page.get_by_role("button", name="Get my calendar link").click()
    expect(page.locator(".feed-url")).to_contain_text(f"/oncall/users/{lea.id}/calendar.ics?token=")
    shoot(page, "desktop-oncall-mine")

    # The same pages on a phone: nothing scrolls sideways, the timeline still works.
    phone = open_page(PHONE, phone=True)
    log_in(phone, lea, "/oncall")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-oncall-now")
    phone.get_by_role("link", name="Schedules", exact=True).click()
    phone.get_by_role("link", name="Payments primary").click()
    expect(phone.locator("#on-call-now")).to_have_text("Lea Lead")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-oncall-schedule")
    phone.locator(".day.is-today .part", has_text="Lea").tap()
    expect(phone.locator("#add-override").get_by_label(re.compile("^From"))).to_have_value(
        "2026-03-02T09:00"
    )
    assert_fits(phone, PHONE["width"])
    phone.get_by_role("link", name="My on-call", exact=True).click()
    expect(phone.locator(".my-shift").first).to_contain_text("Payments primary")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-oncall-mine")


def test_a_viewer_reads_the_schedule_on_a_phone_without_forms(
    one_database, open_page, payments, make_user, db
):
    from tocsin.oncall import service as oncall
    from tocsin.oncall.schemas import LayerIn, ScheduleCreate

    layer = LayerIn(
        participant_ids=[payments["bob"].id, payments["cyd"].id],
        shift_unit="days",
        shift_length=1,
        handoff_time="09:00",
        start="2026-02-27",
    )
    with db.begin() as session:
        team_id = auth.list_teams(session)[0].id
        schedule = oncall.create_schedule(
            session,
            payments["lead"],
            ScheduleCreate(
                name="Payments primary", time_zone="Europe/Berlin", team_id=team_id, layers=[layer]
            ),
        )
    viewer = make_user(Role.VIEWER, name="Vic Viewer")
    page = open_page(PHONE, phone=True)
    log_in(page, viewer, f"/oncall/schedules/{schedule.id}")
    expect(page.locator("#on-call-now")).to_be_visible()
    expect(page.locator("#add-override")).to_have_count(0)
    expect(page.locator("#add-layer")).to_have_count(0)
    expect(page.locator(".callout-quiet")).to_contain_text("You can look")
    # Daily handoffs at 09:00 Berlin: the viewer reads UTC, so each day's bar changes hands
    # once, at 08:00 (a third of the day).
    parts = page.locator(".day").nth(2).locator(".part")
    expect(parts).to_have_count(2)
    assert parts.nth(1).get_attribute("style").startswith("left: 33.333%")
    assert_fits(page, PHONE["width"])
