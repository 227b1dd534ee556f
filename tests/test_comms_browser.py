"""Journey 3 in a real Chromium on a phone: the communications manager sees when the next
stakeholder update is due, edits the prefilled update, sends it to the private and the
public page, and finds it on the timeline; the public page shows it. Screenshots of the
incident page (phone and desktop) and of the follow-up form on a phone go to test-artifacts/."""

from __future__ import annotations

import re

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
from tests.conftest import ARTIFACTS
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, RolesChange
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.schemas import ComponentCreate, PageCreate

pytestmark = BROWSER_MARKS


def test_the_communications_manager_sends_an_update_from_a_phone(
    db,
    admin,
    make_user,
    clock,
    one_database,
    open_page,
):
    im, cm = make_user(name="Ines Manager"), make_user(name="Cora Comms")
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        public = statuspage.create_page(session, admin, PageCreate(slug="acme", name="Acme Cloud"))
        statuspage.create_component(
            session, admin, public.id, ComponentCreate(name="Checkout", service_id=checkout.id)
        )
        statuspage.create_page(
            session, admin, PageCreate(slug="internal", name="Acme internal", public=False)
        )
        incident = incidents.declare_incident(
            session,
            im,
            IncidentCreate(
                summary="Card payments fail",
                severity="SEV1",
                service_id=checkout.id,
                product_ids=[shop.id],
            ),
        )
        incidents.set_roles(session, im, incident.key, RolesChange(communications_manager_id=cm.id))
    clock.advance(minutes=34)  # the first update is overdue

    page = open_page(PHONE, phone=True)
    log_in(page, cm, "/incidents/INC-1")
    due = page.locator("#next-update")
    expect(due).to_contain_text("Stakeholder update overdue")
    expect(due).to_contain_text("09:30")
    form = page.locator("#stakeholder-update")
    expect(form.get_by_label("For internal stakeholders")).to_have_value(
        re.compile(r"Next update: by 10:05 UTC")
    )
    assert_fits(page, PHONE["width"])
    shoot(page, "comms-incident-phone")

    form.get_by_label("Acme internal").check()
    form.get_by_label("Acme Cloud").check()
    internal = form.get_by_label("For internal stakeholders")
    internal.fill(internal.input_value().replace("Find the cause", "Roll back deploy 4512"))
    form.get_by_role("button", name="Send update").click()

    expect(page.locator(".flash")).to_contain_text("The stakeholder update is sent.")
    expect(page.locator("#next-update")).to_contain_text("Next stakeholder update due")
    expect(page.locator("#next-update")).to_contain_text("10:04")
    expect(page.locator(".timeline")).to_contain_text(
        "Stakeholder update 1 sent to Acme internal (private page), Acme Cloud (public page)"
    )
    expect(page.locator(".timeline")).to_contain_text("Roll back deploy 4512")

    # The follow-up form on the phone: the components' status sits under the pages' status.
    follow_up = page.locator("#stakeholder-update")
    if follow_up.get_attribute("open") is None:
        follow_up.locator("summary").click()
    components = follow_up.get_by_label("Components now")
    expect(components.locator("option:checked")).to_have_text("Keep as they are")
    components.select_option("operational")
    assert_fits(page, PHONE["width"])
    ARTIFACTS.mkdir(exist_ok=True)
    follow_up.screenshot(path=str(ARTIFACTS / "comms-update-form-phone.png"))

    public_page = open_page(PHONE, phone=True)
    public_page.goto("/status/acme")
    expect(public_page.locator("body")).to_contain_text(
        "We are investigating a problem affecting Web shop."
    )

    desktop = open_page(DESKTOP)
    log_in(desktop, cm, "/incidents/INC-1")
    shoot(desktop, "comms-incident-desktop")
