"""Status page screens through a browser's eyes (forms, redirects, what each page says),
and the public page as a customer reads it, without a login and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import browser_login
from tests.statuspage_world import build_page, component, publish, statuses, update
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.models import Maintenance, PublicIncident, StatusPage
from tocsin.statuspage.schemas import ComponentUpdate
from tocsin.timeline.models import TimelineEvent

HTML = {"accept": "text/html"}
DASH = "\N{EN DASH}"  # between a status and its message, and in time ranges


@pytest.fixture
def browser(app) -> Iterator:
    opened: list[TestClient] = []

    def login(user) -> tuple[TestClient, str]:
        client = TestClient(app, follow_redirects=False)
        opened.append(client)
        return client, browser_login(client, user)

    yield login
    for client in opened:
        client.close()


def flash(response) -> str:
    """The one-time message a redirect carries."""
    return unquote(response.headers.get("set-cookie", ""))


def text_of(html: str) -> str:
    """The visible words of a page, roughly: tags out, whitespace squeezed."""
    without = re.sub(r"<(script|style|head)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without))).strip()


# ---------------------------------------------------------------- setting up


def test_an_admin_sets_up_a_page_with_forms(browser, admin, db):
    client, csrf = browser(admin)
    created = client.post(
        "/status-pages",
        data={"csrf_token": csrf, "name": "Acme Cloud", "slug": "acme", "visibility": "public"},
    )
    assert created.status_code == 303
    page_url = created.headers["location"]
    with db.begin() as session:
        page = session.scalar(select(StatusPage))
    assert page_url == f"/status-pages/{page.id}"
    client.post(f"{page_url}/groups", data={"csrf_token": csrf, "name": "Regions"})
    with db.begin() as session:
        group_id = statuspage.list_groups(session, page.id)[0].id
    for name, group in (("API", ""), ("EU", str(group_id))):
        added = client.post(
            f"{page_url}/components",
            data={"csrf_token": csrf, "name": name, "group_id": group, "showcase": "on"},
        )
        assert added.status_code == 303 and added.headers["location"].endswith("#components")
    shown = text_of(client.get(page_url).text)
    assert "Acme Cloud" in shown and "Readers see: All Systems Operational" in shown
    assert re.search(r"Regions EU", shown) and "API" in shown
    refused = client.post(
        "/status-pages",
        data={"csrf_token": csrf, "name": "Again", "slug": "acme", "visibility": "private"},
    )
    # The form comes back with the message and what was typed.
    assert refused.status_code == 409
    assert "The address /status/acme is taken by Acme Cloud." in refused.text
    assert 'value="Again"' in refused.text
    assert 'value="private" checked' in refused.text


def test_an_admin_sets_a_components_start_date_with_the_form(browser, admin, db, clock):
    world = build_page(db, admin)
    client, csrf = browser(admin)
    page = client.get(f"/status-pages/{world.page_id}").text
    assert f'id="c-{world.api}-start" name="start_date" type="date" value="2026-03-02"' in page
    assert "uptime is measured from this day" in page
    form = {"csrf_token": csrf, "name": "API", "description": "The REST API", "showcase": "on"}
    saved = client.post(
        f"/status-pages/{world.page_id}/components/{world.api}",
        data={**form, "start_date": "2026-02-01"},
    )
    assert saved.status_code == 303 and "Component API is saved." in flash(saved)
    assert component(db, world.api).start_date == date(2026, 2, 1)
    refused = client.post(
        f"/status-pages/{world.page_id}/components/{world.api}",
        data={**form, "start_date": "2026-03-09"},
    )
    assert "The start date cannot be in the future" in flash(refused)
    assert component(db, world.api).start_date == date(2026, 2, 1)
    added = client.post(
        f"/status-pages/{world.page_id}/components",
        data={"csrf_token": csrf, "name": "DNS", "start_date": "2026-01-10"},
    )
    assert added.status_code == 303
    shown = client.get(f"/status/{world.slug}/api/v2/components.json").json()["components"]
    assert {c["name"]: c["start_date"] for c in shown}["DNS"] == "2026-01-10"


def test_a_responder_sets_a_component_status_but_a_viewer_cannot(
    browser, admin, responder, viewer, db
):
    world = build_page(db, admin)
    client, csrf = browser(responder)
    page = client.get(f"/status-pages/{world.page_id}").text
    assert 'action="/status-pages/1/components/1/status"' in page
    assert "Add a component" not in page  # that is an admin's
    client.post(
        f"/status-pages/{world.page_id}/components/{world.api}/status",
        data={"csrf_token": csrf, "status": "partial_outage"},
    )
    assert statuses(db, world)["API"] == "partial_outage"
    watcher, csrf = browser(viewer)
    page = watcher.get(f"/status-pages/{world.page_id}").text
    assert '/status"' not in page and "Publish an incident" not in page
    refused = watcher.post(
        f"/status-pages/{world.page_id}/components/{world.api}/status",
        data={"csrf_token": csrf, "status": "operational"},
    )
    assert refused.status_code == 303
    assert statuses(db, world)["API"] == "partial_outage"


# ---------------------------------------------------------------- the communications manager


@pytest.fixture
def declared(db, admin, responder):
    """INC-1 (SEV2) on checkout, affecting the Web shop; the page's API is backed by checkout."""
    world = build_page(db, admin)
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        statuspage.update_component(
            session, admin, world.page_id, world.api, ComponentUpdate(service_id=checkout.id)
        )
        incident = incidents.declare_incident(
            session,
            responder,
            IncidentCreate(
                summary="Card payments fail",
                severity="SEV2",
                service_id=checkout.id,
                product_ids=[shop.id],
            ),
        )
    return world, incident.key, incident.id


def test_publishing_from_the_incident_page_is_filled_from_it(
    browser, responder, db, declared, clock
):
    world, key, incident_id = declared
    client, csrf = browser(responder)
    incident_page = client.get(f"/incidents/{key}").text
    assert f'href="/status-pages?publish={key}"' in incident_page
    chooser = client.get(f"/status-pages?publish={key}").text
    form_url = f"/status-pages/{world.page_id}/incidents/new?incident={key}"
    assert f'href="{form_url}"' in chooser.replace("&amp;", "&")
    form = client.get(form_url).text
    assert 'value="Card payments fail"' in form
    assert 'name="incident_key" value="INC-1"' in form
    assert re.search(r'name="component_1">.*?<option value="partial_outage" selected', form, re.S)
    body = unescape(
        re.search(r'<textarea id="i-body" name="body"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    )
    assert "Web shop" in body and "Reference for support: INC-1." in body
    assert '<option value="major" selected' in form

    posted = client.post(
        f"/status-pages/{world.page_id}/incidents",
        data={
            "csrf_token": csrf,
            "incident_key": key,
            "name": "Card payments fail",
            "status": "investigating",
            "impact": "major",
            "body": body,
            "component_1": "partial_outage",
            "component_2": "",
            "notify": "on",
        },
    )
    assert posted.status_code == 303, posted.text
    with db.begin() as session:
        public = session.scalar(select(PublicIncident))
    assert posted.headers["location"] == f"/status-pages/{world.page_id}/incidents/{public.id}"
    admin_view = client.get(posted.headers["location"]).text
    assert "Post an update" in admin_view and f'href="/incidents/{key}"' in admin_view
    drafted = re.search(
        r'<textarea id="u-body" name="body"[^>]*>(.*?)</textarea>', admin_view, re.S
    )
    assert "identified the cause" in unescape(drafted.group(1))
    assert statuses(db, world)["API"] == "partial_outage"
    with db.begin() as session:
        kinds = list(
            session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.subject_id == incident_id)
            )
        )
    assert "status_page_update" in kinds

    clock.advance(minutes=25)
    client.post(
        f"/status-pages/{world.page_id}/incidents/{public.id}/updates",
        data={
            "csrf_token": csrf,
            "status": "resolved",
            "body": "Payments work again.",
            "notify": "on",
        },
    )
    public_page = text_of(TestClient(client.app).get(f"/status/{world.slug}").text)
    assert "All Systems Operational" in public_page
    assert f"Resolved {DASH} Payments work again." in public_page
    assert statuses(db, world)["API"] == "operational"


def test_a_refused_publication_keeps_what_was_typed(browser, responder, db, admin):
    world = build_page(db, admin)
    client, csrf = browser(responder)
    refused = client.post(
        f"/status-pages/{world.page_id}/incidents",
        data={
            "csrf_token": csrf,
            "name": "Checkout errors",
            "body": "",
            "component_1": "major_outage",
        },
    )
    assert refused.status_code == 422
    assert 'value="Checkout errors"' in refused.text
    assert re.search(
        r'name="component_1">.*?<option value="major_outage" selected', refused.text, re.S
    )
    assert "Message is required." in unescape(refused.text)
    with db.begin() as session:
        assert session.scalar(select(PublicIncident)) is None


def test_maintenance_is_scheduled_in_the_users_time_zone(browser, responder, db, admin, clock):
    world = build_page(db, admin)
    client, csrf = browser(responder)
    form = client.get(f"/status-pages/{world.page_id}/maintenances/new").text
    assert 'name="scheduled_for" type="datetime-local"' in form
    posted = client.post(
        f"/status-pages/{world.page_id}/maintenances",
        data={
            "csrf_token": csrf,
            "name": "Database upgrade",
            "scheduled_for": "2026-03-03T22:00",
            "scheduled_until": "2026-03-04T00:30",
            "component_ids": [str(world.api), str(world.web)],
            "body": "Short interruptions.",
            "automatic": "on",
        },
    )
    assert posted.status_code == 303, posted.text
    with db.begin() as session:
        maintenance = session.scalar(select(Maintenance))
        assert maintenance.scheduled_for.isoformat() == "2026-03-03T22:00:00+00:00"
        assert maintenance.automatic and not maintenance.remind_subscribers
        assert {c.component_id for c in maintenance.components} == {world.api, world.web}
    shown = text_of(client.get(posted.headers["location"]).text)
    assert "Database upgrade" in shown and "Automatically" in shown
    client.post(
        f"{posted.headers['location']}/updates",
        data={"csrf_token": csrf, "status": "in_progress", "body": "Started."},
    )
    assert statuses(db, world)["API"] == "under_maintenance"
    wrong = client.post(
        f"/status-pages/{world.page_id}/maintenances",
        data={
            "csrf_token": csrf,
            "name": "Backwards",
            "scheduled_for": "2026-03-04T00:30",
            "scheduled_until": "2026-03-03T22:00",
            "body": "x",
        },
    )
    assert wrong.status_code == 422 and "must end after it starts" in wrong.text


# ---------------------------------------------------------------- the public page


def test_the_public_page_reads_without_a_login_or_script(client, db, admin, responder, clock):
    world = build_page(db, admin)
    old = publish(
        db, responder, world, name="Slow logins", components={world.web: "degraded_performance"}
    )
    clock.advance(hours=1)
    update(db, responder, world, old, "resolved", body="Logins are fast again.")
    clock.advance(hours=1)
    incident_id = publish(
        db,
        responder,
        world,
        name="Card payments fail",
        components={world.api: "major_outage", world.eu: "partial_outage"},
    )
    update(
        db,
        responder,
        world,
        incident_id,
        "identified",
        body="A bad deploy <script>alert(1)</script>",
    )
    response = client.get(f"/status/{world.slug}", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert "<script" not in html.replace("&lt;script&gt;", "")  # escaped, and no script of ours
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    shown = text_of(html)
    assert shown.startswith("Skip to content Acme Cloud")
    assert "Major Service Outage" in shown
    assert f"Card payments fail Critical impact Identified {DASH} A bad deploy" in shown
    assert "This incident affects: API, EU" in shown
    assert "API Major outage The REST API 90 days ago 30 days ago 100.0 % uptime Today" in shown
    assert "Regions 2 components Partial outage" in shown
    assert "Uptime counts a major outage fully and a partial outage at 30 %" in shown
    assert "Past incidents" in shown and "Slow logins" in shown
    assert f"Resolved {DASH} Logins are fast again." in shown
    assert 'class="sp-group" open' in html  # a group in trouble is unfolded
    assert "Log out" not in shown and "Incidents Alerts" not in shown  # no Tocsin chrome
    assert response.headers["cache-control"] == "public, max-age=1"


def test_a_days_bar_says_what_happened(client, db, admin, clock):
    world = build_page(db, admin)
    with db.begin() as session:
        for status in ("major_outage", "operational"):
            statuspage.update_component(
                session, admin, world.page_id, world.api, ComponentUpdate(status=status)
            )
            clock.advance(minutes=90)
    html = client.get(f"/status/{world.slug}").text
    assert 'title="Mar 2, 2026: major outage 1h 30m"' in html
    assert 'class="b-major"' in html and 'class="b-nodata"' in html
    # Added at 09:00, read at 12:00: the day counts from midnight, its start date.
    percent = 100 * (1 - 5400 / (12 * 3600))
    assert f"{percent:.2f} % uptime" in text_of(html)


def test_todays_history_lists_an_incident_still_going_on(client, db, admin, responder, clock):
    """An explorer read 'No incidents reported' under today while an incident was active."""
    world = build_page(db, admin)
    publish(db, responder, world, name="Card payments fail", components={world.api: "major_outage"})
    page = client.get("/status/acme").text
    past = page[page.index('id="past"') :]
    today = past[: past.index("</div>")]
    assert "Card payments fail" in today and "No incidents reported" not in today


def test_an_incident_has_its_own_public_page(client, db, admin):
    world = build_page(db, admin)
    incident_id = publish(
        db, admin, world, name="Checkout errors", components={world.api: "major_outage"}
    )
    with db.begin() as session:
        code = session.get(PublicIncident, incident_id).code
    page = text_of(client.get(f"/status/{world.slug}/incidents/{code}").text)
    assert "Checkout errors Critical impact · Investigating" in page
    assert f"Investigating {DASH} We are investigating." in page
    history = text_of(client.get(f"/status/{world.slug}/history").text)
    assert "Incident history" in history and "Checkout errors" in history


def test_upcoming_maintenance_is_announced(client, db, admin, clock):
    world = build_page(db, admin, time_zone="Europe/Berlin")
    from tocsin.statuspage.schemas import MaintenanceCreate

    with db.begin() as session:
        statuspage.create_maintenance(
            session,
            admin,
            world.page_id,
            MaintenanceCreate(
                name="Database upgrade",
                scheduled_for=clock.current + timedelta(days=1),
                scheduled_until=clock.current + timedelta(days=1, hours=2),
                component_ids=[world.api],
                body="Short interruptions.",
            ),
        )
    shown = text_of(client.get(f"/status/{world.slug}").text)
    assert (
        f"Scheduled maintenance Database upgrade Mar 03, 10:00 {DASH} 12:00 CET "
        "Short interruptions." in shown
    )


def test_a_private_page_sends_a_browser_to_log_in(client, db, admin, browser, viewer):
    build_page(db, admin, slug="internal", public=False)
    anonymous = client.get("/status/internal", headers=HTML, follow_redirects=False)
    assert (
        anonymous.status_code == 303
        and anonymous.headers["location"] == "/login?next=/status/internal"
    )
    reader, _csrf = browser(viewer)
    page = reader.get("/status/internal", headers=HTML)
    assert page.status_code == 200 and "All Systems Operational" in page.text
    assert page.headers["cache-control"] == "private, no-cache"


def test_a_viewer_changes_nothing_on_a_real_page(app, browser, viewer, db, admin, clock):
    """test_access.py sweeps every route on made-up ids; this one on a page that exists."""
    from tests.test_access import BROWSER, concrete, http_routes, snapshot

    world = build_page(db, admin)
    incident_id = publish(db, admin, world, components={world.api: "major_outage"})
    with db.begin() as session:
        from tocsin.statuspage.schemas import MaintenanceCreate

        maintenance = statuspage.create_maintenance(
            session,
            admin,
            world.page_id,
            MaintenanceCreate(
                name="Upgrade",
                scheduled_for=clock.current + timedelta(hours=1),
                scheduled_until=clock.current + timedelta(hours=2),
                component_ids=[world.api],
                body="Planned.",
            ),
        )
    ids = {
        "page_id": world.page_id,
        "group_id": world.group,
        "component_id": world.api,
        "incident_id": incident_id,
        "maintenance_id": maintenance.id,
    }
    forms = {
        "name": "Changed by a viewer",
        "slug": "viewer",
        "status": "resolved",
        "body": "A viewer was here",
        "impact": "none",
        "component_1": "operational",
        "scheduled_for": "2026-03-05T10:00",
        "scheduled_until": "2026-03-05T11:00",
    }
    client, csrf = browser(viewer)
    before = snapshot(db)
    tried = 0
    for method, path in http_routes(app):
        if method != "POST" or not path.startswith("/status-pages"):
            continue
        response = client.post(
            concrete(path, ids), data={**forms, "csrf_token": csrf}, headers=BROWSER
        )
        tried += 1
        assert not response.is_success or (response.status_code == 200 and "error" in response.text)
        assert snapshot(db) == before, f"POST {path} changed something for a viewer"
    assert tried >= 15
