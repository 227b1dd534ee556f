"""A real Chromium, driven by Playwright, through journeys 3 and 5.

The communications manager publishes the incident from its page (the form filled
from the incident), then posts a follow-up; the customer reads the public page on a
phone, without a login, and sees each update as soon as it is posted. Screenshots of
the public page (phone 390x844 and desktop) and of the admin views are kept in
test-artifacts/.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

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
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentStatusChoice,
    ComponentUpdate,
    GroupCreate,
    MaintenanceCreate,
    MaintenanceUpdatePost,
    PageCreate,
    PublicIncidentCreate,
    UpdatePost,
)

DASH = "\N{EN DASH}"  # between a status and its message

pytestmark = BROWSER_MARKS


# ---------------------------------------------------------------- a page with a history


def _outage(session, actor, page_id, clock, name, components, hours, steps=("identified",)):
    """A past incident: published, moved through `steps`, resolved `hours` later."""
    chosen = [ComponentStatusChoice(component_id=c, status=s) for c, s in components.items()]
    incident = statuspage.create_incident(
        session,
        actor,
        page_id,
        PublicIncidentCreate(
            name=name, body="We are investigating reports of errors.", components=chosen
        ),
    )
    for step in steps:
        clock.advance(hours=hours / (len(steps) + 1))
        statuspage.post_update(
            session,
            actor,
            page_id,
            incident.id,
            UpdatePost(status=step, body="We found the cause and are deploying a fix."),
        )
    clock.advance(hours=hours / (len(steps) + 1))
    statuspage.resolve_incident(
        session, actor, page_id, incident.id, "This incident has been resolved."
    )


@pytest.fixture
def acme(db, admin, responder, clock) -> dict:
    """Acme Cloud with 90 days of history, and INC-1 (SEV2) breaking card payments now."""
    now = clock.current
    clock.current = now - timedelta(days=120)
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        page = statuspage.create_page(
            session, admin, PageCreate(slug="acme", name="Acme Cloud", time_zone="Europe/Berlin")
        )
        made = {}
        for name, description in (
            ("Website", "acme.example and the customer dashboard"),
            ("API", "The REST API and webhooks"),
        ):
            made[name] = statuspage.create_component(
                session, admin, page.id, ComponentCreate(name=name, description=description)
            ).id
        payments = statuspage.create_group(
            session, admin, page.id, GroupCreate(name="Payments", description="Checkout")
        )
        for name in ("Card payments", "Bank transfers"):
            made[name] = statuspage.create_component(
                session,
                admin,
                page.id,
                ComponentCreate(
                    name=name,
                    group_id=payments.id,
                    service_id=checkout.id if name == "Card payments" else None,
                ),
            ).id
        regions = statuspage.create_group(session, admin, page.id, GroupCreate(name="Regions"))
        for name in ("EU (Frankfurt)", "US (Virginia)", "Asia (Singapore)"):
            made[name] = statuspage.create_component(
                session, admin, page.id, ComponentCreate(name=name, group_id=regions.id)
            ).id
        for days_ago, name, components, hours in (
            (71, "Elevated API latency", {made["API"]: "degraded_performance"}, 3),
            (44, "Website unavailable", {made["Website"]: "major_outage"}, 1.5),
            (
                23,
                "Card payments failing for some customers",
                {made["Card payments"]: "partial_outage"},
                4,
            ),
            (
                9,
                "Delayed webhooks",
                {made["API"]: "degraded_performance", made["US (Virginia)"]: "partial_outage"},
                2,
            ),
            (3, "Login errors in Asia", {made["Asia (Singapore)"]: "partial_outage"}, 1),
        ):
            clock.current = now - timedelta(days=days_ago, hours=5)
            _outage(session, admin, page.id, clock, name, components, hours)
        clock.current = now - timedelta(days=6, hours=12)
        done = statuspage.create_maintenance(
            session,
            admin,
            page.id,
            MaintenanceCreate(
                name="Database upgrade",
                scheduled_for=clock.current + timedelta(hours=2),
                scheduled_until=clock.current + timedelta(hours=3),
                component_ids=[made["API"]],
                body="We will upgrade our primary database.",
                automatic=False,
            ),
        )
        for status in ("in_progress", "completed"):
            clock.advance(hours=2 if status == "in_progress" else 1)
            statuspage.post_maintenance_update(
                session,
                admin,
                page.id,
                done.id,
                MaintenanceUpdatePost(status=status, body="On schedule."),
            )
        clock.current = now - timedelta(hours=2)
        statuspage.create_maintenance(
            session,
            admin,
            page.id,
            MaintenanceCreate(
                name="Network maintenance in Frankfurt",
                scheduled_for=now + timedelta(days=2, hours=13),
                scheduled_until=now + timedelta(days=2, hours=15),
                component_ids=[made["EU (Frankfurt)"]],
                body="Connections may drop briefly while we replace core switches.",
            ),
        )
        clock.current = now - timedelta(minutes=12)
        incident = incidents.declare_incident(
            session,
            responder,
            IncidentCreate(
                summary="Card payments fail for EU customers",
                severity="SEV2",
                service_id=checkout.id,
                product_ids=[shop.id],
            ),
        )
    clock.current = now
    return {"page_id": page.id, "key": incident.key, "components": made}


# ---------------------------------------------------------------- journeys 3 and 5


def test_the_communications_manager_publishes_and_the_customer_reads_it(
    one_database, open_page, responder, acme, clock
):
    # The customer's phone, before anything is published.
    customer = open_page(PHONE, phone=True)
    customer.goto("/status/acme")
    expect(customer.locator(".sp-banner h1")).to_have_text("All Systems Operational")
    expect(customer.locator(".sp-incident")).to_have_count(0)
    expect(customer.locator(".sp-upcoming")).to_contain_text("Network maintenance in Frankfurt")

    # The communications manager starts from the incident.
    manager = open_page()
    log_in(manager, responder, f"/incidents/{acme['key']}")
    manager.get_by_role("link", name="Publish to status page").click()
    expect(manager.locator(".sp-publish")).to_contain_text(f"Publish {acme['key']}")
    manager.get_by_role("link", name=f"Publish {acme['key']} here…").click()
    expect(manager.get_by_label("Name")).to_have_value("Card payments fail for EU customers")
    expect(manager.locator("#filled-from")).to_contain_text(acme["key"])
    expect(manager.get_by_label("Card payments")).to_have_value("partial_outage")
    message = manager.get_by_label("Message")
    expect(message).to_have_value(re.compile(r"affecting Web shop"))
    expect(message).to_have_value(re.compile(rf"Reference for support: {acme['key']}"))
    manager.get_by_label("Name").fill("Card payments fail for some customers")
    message.fill(
        "Some card payments fail with an error at checkout. We are investigating.\n\n"
        "We will post another update by 10:30 CET."
    )
    manager.get_by_label("EU (Frankfurt)").select_option("degraded_performance")
    shoot(manager, "statuspage-desktop-publish")
    manager.get_by_role("button", name="Publish").click()
    expect(manager.locator(".flash")).to_contain_text("is on the status page")
    expect(manager.locator(".sp-pill").first).to_have_text("Investigating")

    # The customer reloads: the incident is there, on a phone, without a login.
    customer.reload()
    expect(customer.locator(".sp-banner h1")).to_have_text("Partial System Outage")
    box = customer.locator(".sp-incident").first
    expect(box.locator("h2")).to_have_text("Card payments fail for some customers")
    expect(box.locator(".sp-update").first).to_contain_text(
        f"Investigating {DASH} Some card payments fail"
    )
    expect(box.locator(".sp-affects")).to_contain_text("Card payments, EU (Frankfurt)")
    payments = customer.locator("details.sp-group", has_text="Payments")
    expect(payments).to_have_attribute("open", "")
    expect(payments.locator(".sp-row", has_text="Card payments").locator(".sp-state")).to_have_text(
        "Partial outage"
    )
    assert_fits(customer, PHONE["width"])
    shoot(customer, "statuspage-phone-incident")

    # A follow-up from the template, then the customer sees it at once.
    clock.advance(minutes=20)
    manager.get_by_label("Identified").check()
    expect(manager.get_by_label("Message")).to_have_value(re.compile(r"identified the cause"))
    manager.get_by_label("Message").fill(
        "A faulty release of the payment service is the cause; we are rolling it back."
    )
    manager.get_by_role("button", name="Post update").click()
    expect(manager.locator(".flash")).to_contain_text("Update posted (identified)")
    shoot(manager, "statuspage-desktop-admin-incident")
    customer.reload()
    first_update = customer.locator(".sp-incident .sp-update").first
    expect(first_update).to_contain_text(f"Identified {DASH} A faulty release")

    summary = customer.request.get("/status/acme/api/v2/summary.json").json()
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert summary["incidents"][0]["incident_updates"][0]["status"] == "identified"

    # The customer's desktop, with its 90 days of history.
    desk = open_page()
    desk.goto("/status/acme")
    expect(desk.locator(".sp-bars").first.locator("i")).to_have_count(90)
    expect(desk.locator(".sp-past")).to_contain_text("Login errors in Asia")
    assert_fits(desk, DESKTOP["width"])
    shoot(desk, "statuspage-desktop-incident")

    # Resolved: all green again, on the phone.
    clock.advance(minutes=40)
    manager.get_by_label("Resolved").check()
    manager.get_by_label("Message").fill("Card payments work again. We are sorry for the trouble.")
    manager.get_by_role("button", name="Post update").click()
    expect(manager.locator(".flash")).to_contain_text("Update posted (resolved)")
    customer.reload()
    expect(customer.locator(".sp-banner h1")).to_have_text("All Systems Operational")
    expect(customer.locator(".sp-past")).to_contain_text("Card payments fail for some customers")
    shoot(customer, "statuspage-phone-resolved")

    # The page's admin view: components back to operational, the incident among the past ones.
    manager.get_by_role("link", name="Acme Cloud").first.click()
    expect(manager.locator(".sp-overall-line")).to_contain_text("All Systems Operational")
    expect(
        manager.locator("#components tr", has_text="Card payments").locator("select")
    ).to_have_value("operational")
    shoot(manager, "statuspage-desktop-admin-page")
    status_width = "el => el.getBoundingClientRect().width"
    assert manager.locator("#components select").first.evaluate(status_width) >= 150

    # On a phone each component's status reads in full under its name.
    phone = open_page(PHONE, phone=True)
    log_in(phone, responder, then=urlsplit(manager.url).path)
    assert phone.locator("#components select").first.evaluate(status_width) >= 200
    assert_fits(phone, PHONE["width"])
    shoot(phone, "statuspage-phone-admin-page")


def test_the_public_page_needs_no_script(one_database, browser, live_server, acme):  # noqa: F811
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, java_script_enabled=False, base_url=live_server.url
    )
    try:
        page = context.new_page()
        page.goto("/status/acme")
        expect(page.locator(".sp-banner h1")).to_have_text("All Systems Operational")
        regions = page.locator("details.sp-group", has_text="Regions")
        expect(regions.locator(".sp-children")).to_be_hidden()  # folded: all is well there
        regions.locator("summary").click()  # <details> opens without script
        expect(regions.locator(".sp-children")).to_be_visible()
        expect(page.locator(".sp-row", has_text="Asia (Singapore)").first).to_be_visible()
        # On a phone the bars show the last 30 days, each wide enough to see.
        widths = (
            page.locator(".sp-bars")
            .first.locator("i:visible")
            .evaluate_all("els => els.map(e => e.getBoundingClientRect().width)")
        )
        assert len(widths) == 30 and min(widths) >= 6
        assert_fits(page, PHONE["width"])
        shoot(page, "statuspage-phone")
        page.set_viewport_size(DESKTOP)
        shoot(page, "statuspage-desktop")
    finally:
        context.close()


# ---------------------------------------------------------------- uptime from the start date


def _reload_until(page, url: str, ready, seconds: float = 10.0) -> None:
    """Reloads until `ready(page)`: the public cache refreshes in the background."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        if ready(page) or time.monotonic() > deadline:
            return
        page.wait_for_timeout(200)


def test_a_component_added_minutes_ago_reads_its_day_and_its_start_date_is_set_in_the_form(
    one_database, open_page, db, admin, clock
):
    """Issue 15: a component added a minute ago read 66 % after a one-minute outage."""
    with db.begin() as session:
        page = statuspage.create_page(session, admin, PageCreate(slug="dns", name="DNS Co"))
        added = statuspage.create_component(
            session, admin, page.id, ComponentCreate(name="Resolver")
        )
        page_id, resolver = page.id, added.id
    for status in ("major_outage", "operational"):  # down from 09:01 to 09:02
        clock.advance(minutes=1)
        with db.begin() as session:
            statuspage.update_component(
                session, admin, page_id, resolver, ComponentUpdate(status=status)
            )
    clock.advance(minutes=1)  # read at 09:03: the day since midnight counts, 60 s of it down

    reader = open_page()
    reader.goto("/status/dns")
    row = reader.locator(".sp-row", has_text="Resolver")
    expect(row.locator(".sp-uptime")).to_have_text("99.81 % uptime")
    bars = row.locator(".sp-bars i")
    expect(bars).to_have_count(90)
    expect(row.locator(".sp-bars i.b-nodata")).to_have_count(89)  # before today: no data
    expect(bars.last).to_have_attribute("title", "Mar 2, 2026: major outage 1m")

    manager = open_page()
    log_in(manager, admin, f"/status-pages/{page_id}")
    editing = manager.locator('tr[data-component="Resolver"]')
    editing.locator("details.sp-edit summary").click()
    start = editing.get_by_label("Start date")
    expect(start).to_have_value("2026-03-02")
    start.fill("2026-02-01")
    editing.get_by_role("button", name="Save").click()
    expect(flash(manager)).to_contain_text("Component Resolver is saved.")

    clock.advance(seconds=2)  # past the public cache's second
    _reload_until(reader, "/status/dns", lambda p: p.locator(".sp-bars i.b-nodata").count() == 60)
    row = reader.locator(".sp-row", has_text="Resolver")
    expect(row.locator(".sp-bars i.b-nodata")).to_have_count(60)  # Dec 3 to Jan 31
    expect(row.locator(".sp-uptime")).to_have_text("99.99 % uptime")
    shoot(reader, "statuspage-start-date")
