"""A real Chromium, driven by Playwright, through the alert pages.

Journey 1 on a phone (390x844): from the alert list to the alert, Acknowledge, then
Declare incident, landing on the incident. Journey 6 on a desktop: connect
Alertmanager from the service's alerting page. Screenshots of the alert list, the
alert page and the service alerting page, on a phone and a desktop, are kept in
test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.alerting import run_engine
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
from tocsin.alerts import service as alerts
from tocsin.alerts.events import Action, AlertEvent, AlertSeverity
from tocsin.alerts.models import Integration
from tocsin.alerts.schemas import IntegrationCreate
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate

pytestmark = BROWSER_MARKS


@pytest.fixture
def firing(db, admin, responder) -> dict[str, int]:
    """A payments service owned by Rita's team, fed by Alertmanager, with a few alerts firing."""
    with db.begin() as session:
        actor = session.get(User, admin.id)
        team = auth.create_team(
            session, actor, TeamCreate(name="Payments team", member_ids=[responder.id])
        )
        payments = catalogue.create_service(
            session, actor, ServiceCreate(name="Payments", team_id=team.id)
        )
        search = catalogue.create_service(session, actor, ServiceCreate(name="Search"))
        integration, _key = alerts.create_integration(
            session,
            actor,
            IntegrationCreate(service_id=payments.id, name="Prometheus prod", kind="alertmanager"),
        )
        probe, _key = alerts.create_integration(
            session,
            actor,
            IntegrationCreate(service_id=search.id, name="Search probe", kind="pagerduty"),
        )
        services = {"payments": payments.id, "search": search.id, "integration": integration.id}
        probe_id = probe.id

    def send(integration_id: int, *events: AlertEvent) -> None:
        with db.begin() as session:
            alerts.ingest_events(session, session.get(Integration, integration_id), list(events))

    send(
        probe_id,
        AlertEvent(
            Action.TRIGGER,
            "cert",
            "TLS certificate of search.example.com expires in 20 days",
            AlertSeverity.INFO,
        ),
        AlertEvent(
            Action.TRIGGER, "index", "Search index is 40 minutes stale", AlertSeverity.WARNING
        ),
    )
    send(
        services["integration"],
        AlertEvent(
            Action.TRIGGER,
            "b1946ac92492d234",
            "Disk 91% full on db-2",
            AlertSeverity.ERROR,
            source="db-2",
            labels={"alertname": "DiskFilling", "instance": "db-2", "severity": "error"},
        ),
    )
    checkout = AlertEvent(
        Action.TRIGGER,
        "dc667fabad98b2d0",
        "Checkout error rate above 5% for 5 minutes",
        AlertSeverity.CRITICAL,
        source="web-1",
        component="checkout",
        group="payments",
        event_class="HighErrorRate",
        labels={
            "alertname": "HighErrorRate",
            "instance": "web-1",
            "job": "checkout",
            "service": "payments",
            "severity": "critical",
        },
        details={
            "annotations": {
                "summary": "Checkout error rate above 5% for 5 minutes",
                "description": "5xx ratio is 7.3% (threshold 5%) on web-1",
                "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
            },
            "startsAt": "2026-11-27T03:04:15.704Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
        links=[
            {
                "href": "http://prometheus.example.com/graph?g0.expr=rate%28http_5xx%5B5m%5D%29",
                "text": "Prometheus graph",
            },
            {"href": "http://alertmanager.example.com", "text": "Alertmanager"},
        ],
    )
    send(services["integration"], checkout, checkout, checkout)
    with db.begin() as session:
        alerts.resolve_alert(session, session.get(User, admin.id), 1)
    run_engine(db)
    return services


def test_on_a_phone_a_responder_acknowledges_and_declares_from_the_alert(
    one_database, open_page, responder, firing
):
    phone = open_page(PHONE, phone=True)
    log_in(phone, responder, then="/alerts")
    expect(phone.locator(".alert-row .key")).to_have_text(["ALR-4", "ALR-3", "ALR-2"])
    row = phone.locator(".alert-row", has_text="Checkout error rate")
    expect(row.locator(".sev")).to_have_text("critical")
    expect(row.locator(".status")).to_have_text("triggered")
    expect(row).to_contain_text("\u00d73")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-alerts-list")

    row.get_by_role("link", name="Checkout error rate above 5% for 5 minutes").click()
    expect(phone).to_have_url(re.compile(r"/alerts/4$"))
    expect(phone.locator("h1")).to_have_text("Checkout error rate above 5% for 5 minutes")
    graph = phone.get_by_role("link", name="Prometheus graph")
    expect(graph).to_have_attribute("target", "_blank")
    expect(graph).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(phone.locator(".payload")).to_contain_text('"runbook_url"')
    # What Alertmanager's annotations say, readable without opening the JSON.
    expect(phone.locator(".annotations")).to_contain_text("5xx ratio is 7.3% (threshold 5%)")
    expect(phone.get_by_role("link", name="Runbook")).to_have_attribute(
        "href", "https://runbooks.example.com/checkout/high-error-rate"
    )
    acknowledge = phone.get_by_role("button", name="Acknowledge")
    box = acknowledge.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 300, "a big button on a phone"
    assert box["y"] + box["height"] <= PHONE["height"], "Acknowledge is above the fold"
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-alert")

    acknowledge.tap()
    expect(flash(phone)).to_have_text("ALR-4 is acknowledged.")
    expect(phone.locator(".vitals .status")).to_have_text("acknowledged")
    expect(phone.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(phone.locator(".timeline .what").first).to_have_text(f"Acknowledged by {responder.name}")

    expect(phone.get_by_label("Incident severity")).to_have_value("SEV1")
    phone.get_by_role("button", name="Declare incident").tap()
    expect(phone).to_have_url(re.compile(r"/incidents/INC-1$"))
    expect(flash(phone)).to_have_text("INC-1 is declared from ALR-4. You are its incident manager.")
    expect(phone.locator("#incident-title")).to_have_text(
        "Checkout error rate above 5% for 5 minutes"
    )
    expect(phone.locator(".vitals .sev")).to_have_text("SEV1")
    expect(phone.locator(".facts")).to_contain_text("Payments")

    # Back on the alert, the incident is one tap away.
    phone.goto("/alerts/4")
    expect(phone.locator(".linked-incident-link")).to_contain_text("INC-1")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-alert-linked")

    desktop = open_page()
    log_in(desktop, responder, then="/alerts/4")
    assert_fits(desktop, DESKTOP["width"])
    shoot(desktop, "desktop-alert")
    desktop.get_by_role("link", name="Alerts", exact=True).click()
    desktop.get_by_role("link", name="All", exact=True).click()
    expect(desktop.locator(".alert-row")).to_have_count(4)
    expect(
        desktop.locator(".alert-row", has_text="Checkout").locator(".incident-link")
    ).to_have_text("INC-1")
    assert_fits(desktop, DESKTOP["width"])
    shoot(desktop, "desktop-alerts-list")


def test_a_team_lead_connects_alertmanager_and_sets_rules_and_maintenance(
    one_database,
    open_page,
    responder,
    firing,
    live_server,  # noqa: F811
):
    page = open_page()
    log_in(page, responder, then="/services")
    page.get_by_role("link", name="Alerting").first.click()
    expect(page).to_have_url(re.compile(rf"/services/{firing['payments']}/alerting$"))
    expect(page.locator("h1")).to_have_text("Alerting for Payments")

    # Heartbeat fields show only for a heartbeat.
    page.get_by_text("Add an integration").click()
    expect(page.get_by_label("Ping every")).to_be_hidden()
    page.get_by_role("radio", name=re.compile("^Heartbeat")).check()
    expect(page.get_by_label("Ping every")).to_be_visible()
    page.get_by_role("radio", name=re.compile("^Prometheus Alertmanager")).check()
    expect(page.get_by_label("Ping every")).to_be_hidden()
    page.get_by_role("textbox", name=re.compile("^Name")).fill("Alertmanager eu-west")
    page.get_by_role("button", name="Add integration").click()

    expect(flash(page)).to_contain_text("Alertmanager eu-west is added.")
    url = page.locator(".paste-url").inner_text()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/integrations/alertmanager/\w{{32}}", url)
    expect(page.locator(".key-reveal pre")).to_contain_text(f"      - url: {url}")
    # One tap copies the URL to paste.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator(".paste-url + button.copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    shoot(page, "alerting-new-key")

    # Rules: critical declares an incident, info is only logged, the rest pages.
    rows = page.locator(".rule-row")
    rows.nth(0).get_by_label("Rule 1: severity").select_option("critical")
    rows.nth(0).get_by_label("Rule 1: action").select_option("incident")
    rows.nth(0).get_by_label("Rule 1: incident severity").select_option("SEV1")
    rows.nth(1).get_by_label("Rule 2: severity").select_option("info")
    rows.nth(1).get_by_label("Rule 2: action").select_option("log")
    rows.nth(2).get_by_label("Rule 3: action").select_option("page")
    page.get_by_role("button", name="Save rules").click()
    expect(flash(page)).to_have_text("Rules saved (3).")
    expect(page.locator(".key-reveal")).to_have_count(0)  # shown once
    expect(page.locator(".outcomes li").first).to_contain_text("Declare a SEV1 incident and page")

    page.get_by_label("Reason").fill("Database upgrade to PostgreSQL 17")
    page.get_by_role("button", name="Plan maintenance").click()
    expect(flash(page)).to_have_text(
        "Maintenance planned: alerts are kept but page nobody during it."
    )
    expect(page.locator(".window")).to_contain_text("on now")

    # Rotating asks first, then shows the new key once.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#integration-" + str(firing["integration"])).get_by_role(
        "button", name="Rotate key"
    ).click()
    expect(flash(page)).to_contain_text("The key of Prometheus prod is rotated")
    expect(page.locator(".key-reveal")).to_be_visible()
    assert_fits(page, DESKTOP["width"])
    shoot(page, "desktop-service-alerting")

    phone = open_page(PHONE, phone=True)
    log_in(phone, responder, then=f"/services/{firing['payments']}/alerting")
    phone.get_by_text("Add an integration").tap()
    phone.get_by_role("radio", name=re.compile("^PagerDuty")).check()
    phone.get_by_role("textbox", name=re.compile("^Name")).fill("Grafana")
    phone.get_by_role("button", name="Add integration").tap()
    expect(phone.locator(".paste-url")).to_have_text(f"{live_server.url}/v2/enqueue")
    expect(phone.locator(".key-reveal pre")).to_contain_text("pagerduty_configs:")
    assert_fits(phone, PHONE["width"])
    shoot(phone, "phone-service-alerting")


def test_a_viewer_reads_the_alert_but_gets_no_buttons(one_database, open_page, make_user, firing):
    vic = make_user(Role.VIEWER, name="Vic Viewer")
    page = open_page(PHONE, phone=True)
    log_in(page, vic, then="/alerts/4")
    expect(page.locator("h1")).to_have_text("Checkout error rate above 5% for 5 minutes")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Declare incident")).to_have_count(0)
    expect(page.get_by_role("link", name="Prometheus graph")).to_be_visible()
