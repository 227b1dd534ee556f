"""A real Chromium, driven by Playwright, through what people do on the incident pages.

Screenshots of the list, the declare form and the incident page, on a desktop
(1280 wide) and on a phone (390x844), are kept in test-artifacts/.
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
from tocsin.auth.models import Role, User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate

pytestmark = BROWSER_MARKS


@pytest.fixture
def catalogue_entries(db, admin) -> dict[str, int]:
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="Checkout API"))
        catalogue.create_service(session, admin, ServiceCreate(name="Search"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        catalogue.create_product(session, admin, ProductCreate(name="Mobile app"))
        return {"checkout": checkout.id, "shop": shop.id}


def workflow_buttons(page) -> list[str]:
    """The workflow moves offered on the incident page, as their visible labels."""
    labels = page.locator("#workflow > form > button, #workflow summary").all_inner_texts()
    return [label.strip() for label in labels]


def timeline(page) -> list[str]:
    return [t.strip() for t in page.locator(".timeline .event .what").all_inner_texts()]


def test_declare_take_to_resolved_note_and_star(
    one_database, open_page, responder, catalogue_entries, db
):
    page = open_page()
    log_in(page, responder)
    expect(page.locator(".incidents .empty")).to_contain_text("No incidents yet")

    # Declaring: one screen, the handbook's words for each severity.
    page.get_by_role("link", name="Declare incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/new$"))
    expect(page.get_by_label("Summary")).to_be_focused()
    expect(page.locator(".severity-choice")).to_contain_text("down for a subset of customers")
    shoot(page, "desktop-declare")
    page.get_by_label("Summary").fill("Checkout fails for EU customers")
    page.get_by_label(re.compile("SEV2")).check()
    page.get_by_label("Faulty service").select_option(label="Checkout API")
    page.get_by_label("Web shop").check()
    page.get_by_label("Description").fill("500s at payment.\nReported by ACME support.")
    page.get_by_role("button", name="Declare incident").click()

    expect(page).to_have_url(re.compile(r"/incidents/INC-1$"))
    expect(flash(page)).to_have_text(
        "INC-1 is declared. You are its incident manager. "
        "The on-call of Checkout API is being paged."
    )
    expect(page.locator(".vitals .status")).to_have_text("open")
    expect(page.locator(".vitals .sev")).to_have_text("SEV2")
    expect(page.locator("#incident-manager")).to_have_text(responder.name)
    expect(page.locator(".facts")).to_contain_text("Checkout API")
    expect(page.locator(".facts")).to_contain_text("Web shop")
    expect(page.locator(".description")).to_have_text("500s at payment.\nReported by ACME support.")
    assert workflow_buttons(page) == ["Start fixing", "Cancel (false alarm)…"]

    # The flash message is shown once.
    page.reload()
    expect(page.locator(".vitals .status")).to_have_text("open")
    expect(flash(page)).to_have_count(0)

    page.get_by_role("button", name="Start fixing").click()
    expect(flash(page)).to_have_text("INC-1 is now fixing.")
    expect(page.locator(".vitals .status")).to_have_text("fixing")
    assert workflow_buttons(page) == ["Resolve…", "Cancel (false alarm)…"]

    # Resolving asks what resolved it.
    page.locator("#workflow summary", has_text="Resolve").click()
    what_resolved = page.get_by_label("What resolved it?")
    expect(what_resolved).to_be_visible()
    expect(what_resolved).to_be_focused()
    what_resolved.fill("Rolled back deploy 4512; error rate back to normal.")
    page.locator("#workflow form button", has_text="Resolve").click()
    expect(flash(page)).to_have_text("INC-1 is now resolved.")
    expect(page.locator(".vitals .status")).to_have_text("resolved")
    expect(page.locator(".outcome")).to_contain_text("Rolled back deploy 4512")
    assert workflow_buttons(page) == ["Close", "Reopen"]

    page.get_by_label("Add a note").fill("Postmortem on Thursday; owner Rita.")
    page.get_by_role("button", name="Add note").click()
    expect(flash(page)).to_have_text("Note added.")
    # (resolving a major incident also starts its postmortem, due a week after today)
    assert [line for line in timeline(page) if not line.startswith("Postmortem started")] == [
        "Postmortem on Thursday; owner Rita.",
        "Status changed from fixing to resolved: "
        "Rolled back deploy 4512; error rate back to normal.",
        "Status changed from open to fixing",
        "Nobody was paged: Checkout API has no escalation policy",
        f"{responder.name} declared INC-1 (SEV2): Checkout fails for EU customers",
    ]

    # Star the note; the important-only view shows just it.
    note = page.locator(".timeline .event").first
    note.get_by_role("button", name="Star as important").click()
    expect(flash(page)).to_have_text("Starred as important.")
    expect(page.locator(".timeline .event").first).to_have_class(re.compile(r"\bstarred\b"))
    expect(page.locator(".timeline .event").first.locator(".star")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.get_by_role("link", name="★ Important only").click()
    expect(page.locator(".timeline .event .what")).to_have_text(
        ["Postmortem on Thursday; owner Rita."]
    )

    page.goto("/incidents/INC-1")
    assert_fits(page, DESKTOP["width"])
    shoot(page, "desktop-incident")

    # A list with more than one incident in it, as it usually is.
    for summary, severity in (
        ("Search results empty for some queries", "SEV3"),
        ("Payments time out for all customers", "SEV1"),
    ):
        with db.begin() as session:
            data = IncidentCreate(summary=summary, severity=severity)
            incidents.declare_incident(session, session.get(User, responder.id), data)
    page.get_by_role("link", name="Incidents", exact=True).click()
    expect(page.locator(".incident .key")).to_have_text(["INC-3", "INC-2", "INC-1"])
    page.get_by_role("link", name="Active", exact=True).click()
    expect(page.locator(".incident")).to_have_count(2)
    page.get_by_role("link", name="All", exact=True).click()
    row = page.locator(".incident", has_text="Checkout fails for EU customers")
    expect(row.locator(".status")).to_have_text("resolved")
    expect(row.locator(".sev")).to_have_text("SEV2")
    assert_fits(page, DESKTOP["width"])
    shoot(page, "desktop-list")

    # The same pages on a phone: nothing wider than the screen, big tap targets.
    phone = open_page(PHONE, phone=True)
    log_in(phone, responder)
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-list")
    phone.get_by_role("link", name="Declare incident").click()
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-declare")
    phone.goto("/incidents/INC-1")
    expect(phone.locator(".vitals .status")).to_have_text("resolved")
    assert_fits(phone, PHONE["width"])
    for button in phone.locator("#workflow > form > button").all():
        box = button.bounding_box()
        assert box and box["height"] >= 44, "workflow buttons are at least 44px tall"
    shoot(phone, "phone-incident")


def test_handover_is_recorded_when_the_new_incident_manager_accepts(
    one_database, open_page, make_user
):
    rita = make_user(Role.RESPONDER, name="Rita Responder")
    sam = make_user(Role.RESPONDER, name="Sam Second")
    page = open_page()
    log_in(page, rita, then="/incidents/new")
    page.get_by_label("Summary").fill("Login fails for SSO customers")
    page.get_by_label(re.compile("SEV1")).check()
    page.get_by_role("button", name="Declare incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/INC-1$"))

    page.get_by_text("Hand over incident manager").click()
    page.get_by_label("New incident manager").select_option(label=f"{sam.name} ({sam.email})")
    page.get_by_label("Handover note").fill("Shift ends; DB team is on replication lag.")
    page.get_by_role("button", name="Ask to take over").click()
    expect(flash(page)).to_contain_text(f"Asked {sam.name} to take over")
    expect(page.locator("#incident-manager")).to_have_text(rita.name)
    expect(page.locator(".callout")).to_contain_text(f"Handover to {sam.name} is waiting")

    other = open_page()
    log_in(other, sam, then="/incidents/INC-1")
    ask = other.locator("#handover-ask")
    expect(ask).to_contain_text(f"{rita.name} asks you to take over as incident manager")
    expect(ask).to_contain_text("Shift ends; DB team is on replication lag.")
    other.get_by_role("button", name="Accept: I am the incident manager").click()
    expect(flash(other)).to_have_text("You are now the incident manager.")
    expect(other.locator("#incident-manager")).to_have_text(sam.name)
    expect(other.locator("#handover-ask")).to_have_count(0)
    assert timeline(other)[0] == (
        f"{sam.name} is now the incident manager, taking over from {rita.name}"
    )

    # The old incident manager sees the change, and no longer holds the manager's tools.
    page.reload()
    expect(page.locator("#incident-manager")).to_have_text(sam.name)
    expect(page.locator("#handover")).to_have_count(0)
    expect(page.locator("#roles")).to_have_count(0)
