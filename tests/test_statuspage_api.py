"""The status page JSON: Tocsin's management API, and the public Statuspage v2 documents
checked field by field; then the cache: ETag/304, invalidation, and no database per read.

The v2 shape below is Atlassian Statuspage's public API (/api/v2/*.json) as its own
pages serve it: the same keys, nesting, types and enums, so widgets read Tocsin unchanged.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from tests.conftest import assert_error
from tests.statuspage_world import build_page, publish, update
from tocsin.engine.maintenance import MaintenanceTransitions
from tocsin.engine.runner import EngineRunner
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.schemas import MaintenanceCreate

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- the v2 shape

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
CODE = re.compile(r"^[a-z0-9]{12}$")
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical"}
INDICATORS = {
    "none": {"All Systems Operational", "Service Under Maintenance"},
    "minor": {"Minor Service Outage"},
    "major": {"Partial System Outage"},
    "critical": {"Major Service Outage"},
}

PAGE = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
AFFECTED = {"code", "name", "old_status", "new_status"}
MAINTENANCE = INCIDENT | {"scheduled_for", "scheduled_until"}


def time_or_none(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(TIME.match(value)))


def check_page(page: dict, slug: str) -> None:
    assert set(page) == PAGE
    assert CODE.match(page["id"])
    assert isinstance(page["name"], str)
    assert page["url"] == f"http://testserver/status/{slug}"
    assert isinstance(page["time_zone"], str)
    assert TIME.match(page["updated_at"])


def check_status(status: dict) -> None:
    assert set(status) == {"indicator", "description"}
    assert status["description"] in INDICATORS[status["indicator"]]


def check_component(component: dict, page_id: str) -> None:
    expected = COMPONENT | ({"components"} if component["group"] else set())
    assert set(component) == expected, set(component) ^ expected
    assert CODE.match(component["id"])
    assert component["status"] in COMPONENT_STATUSES
    assert TIME.match(component["created_at"]) and TIME.match(component["updated_at"])
    assert isinstance(component["position"], int) and component["position"] >= 1
    assert component["description"] is None or isinstance(component["description"], str)
    assert isinstance(component["showcase"], bool)
    assert component["only_show_if_degraded"] is False
    assert component["page_id"] == page_id
    if component["group"]:
        assert component["group_id"] is None and component["start_date"] is None
        assert all(CODE.match(c) for c in component["components"])
    else:
        assert component["group_id"] is None or CODE.match(component["group_id"])
        assert re.match(r"^\d{4}-\d\d-\d\d$", component["start_date"])


def check_update(update: dict, parent: dict, statuses: set[str]) -> None:
    assert set(update) == UPDATE
    assert CODE.match(update["id"])
    assert update["status"] in statuses
    assert isinstance(update["body"], str) and update["body"]
    assert update["incident_id"] == parent["id"]
    assert all(TIME.match(update[k]) for k in ("created_at", "updated_at", "display_at"))
    assert isinstance(update["deliver_notifications"], bool)
    assert update["custom_tweet"] is None and update["tweet_id"] is None
    if update["affected_components"] is not None:
        for affected in update["affected_components"]:
            assert set(affected) == AFFECTED
            assert CODE.match(affected["code"])
            assert affected["old_status"] in COMPONENT_STATUSES
            assert affected["new_status"] in COMPONENT_STATUSES


def check_incident(incident: dict, page_id: str, slug: str) -> None:
    assert set(incident) == INCIDENT
    assert CODE.match(incident["id"])
    assert incident["status"] in INCIDENT_STATUSES
    assert incident["impact"] in IMPACTS
    assert incident["page_id"] == page_id
    assert incident["shortlink"] == f"http://testserver/status/{slug}/incidents/{incident['id']}"
    for key in ("created_at", "updated_at", "started_at"):
        assert TIME.match(incident[key])
    assert time_or_none(incident["monitoring_at"]) and time_or_none(incident["resolved_at"])
    for entry in incident["incident_updates"]:
        check_update(entry, incident, INCIDENT_STATUSES)
    for component in incident["components"]:
        check_component(component, page_id)


def check_maintenance(maintenance: dict, page_id: str) -> None:
    assert set(maintenance) == MAINTENANCE
    assert maintenance["status"] in MAINTENANCE_STATUSES
    assert maintenance["impact"] == "maintenance"
    assert TIME.match(maintenance["scheduled_for"]) and TIME.match(maintenance["scheduled_until"])
    assert time_or_none(maintenance["resolved_at"]) and time_or_none(maintenance["monitoring_at"])
    for entry in maintenance["incident_updates"]:
        check_update(entry, maintenance, MAINTENANCE_STATUSES)
        assert entry["affected_components"] is None
    for component in maintenance["components"]:
        check_component(component, page_id)


# ---------------------------------------------------------------- a page with everything on it


@pytest.fixture
def busy(db, admin, responder, clock):
    """Acme Cloud (Berlin time): an open incident, a resolved one, maintenance planned and
    in progress."""
    world = build_page(db, admin, time_zone="Europe/Berlin")
    old = publish(
        db, responder, world, name="Slow logins", components={world.web: "degraded_performance"}
    )
    clock.advance(hours=1)
    update(db, responder, world, old, "resolved", body="Logins are fast again.")
    clock.advance(hours=1)
    publish(
        db,
        responder,
        world,
        name="Card payments fail",
        components={world.api: "major_outage", world.eu: "partial_outage"},
    )
    with db.begin() as session:
        for name, start, components in (
            ("Database upgrade", clock.current + timedelta(days=2), [world.api]),
            ("Network work", clock.current - timedelta(minutes=5), [world.us]),
        ):
            statuspage.create_maintenance(
                session,
                responder,
                world.page_id,
                MaintenanceCreate(
                    name=name,
                    scheduled_for=start,
                    scheduled_until=start + timedelta(hours=2),
                    component_ids=components,
                    body="Planned work.",
                ),
            )
    # The engine starts the network work, which began five minutes ago.
    assert EngineRunner(db, [MaintenanceTransitions()]).run_once() == {"maintenance_transitions": 1}
    return world


def v2(client, slug: str, name: str) -> dict:
    response = client.get(f"/status/{slug}/api/v2/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_summary_has_the_statuspage_shape(client, busy):
    summary = v2(client, busy.slug, "summary.json")
    assert list(summary) == ["page", "components", "incidents", "scheduled_maintenances", "status"]
    check_page(summary["page"], busy.slug)
    assert summary["page"]["time_zone"] == "Europe/Berlin"
    assert summary["page"]["updated_at"].endswith("+01:00")
    page_id = summary["page"]["id"]
    for component in summary["components"]:
        check_component(component, page_id)
    for incident in summary["incidents"]:
        check_incident(incident, page_id, busy.slug)
    for maintenance in summary["scheduled_maintenances"]:
        check_maintenance(maintenance, page_id)
    check_status(summary["status"])
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert [i["name"] for i in summary["incidents"]] == ["Card payments fail"]
    assert [(m["name"], m["status"]) for m in summary["scheduled_maintenances"]] == [
        ("Network work", "in_progress"),
        ("Database upgrade", "scheduled"),
    ]


def test_components_list_groups_with_their_components(client, busy):
    components = v2(client, busy.slug, "components.json")["components"]
    assert [(c["name"], c["status"], c["group"]) for c in components] == [
        ("API", "major_outage", False),
        ("Website", "operational", False),
        ("Regions", "partial_outage", True),  # the worst of its components
        ("EU", "partial_outage", False),
        ("US", "under_maintenance", False),
    ]
    assert [c["position"] for c in components] == [1, 2, 3, 4, 5]
    regions = components[2]
    assert regions["components"] == [components[3]["id"], components[4]["id"]]
    assert components[3]["group_id"] == regions["id"]
    assert components[0]["description"] == "The REST API" and components[1]["description"] is None


def test_incidents_carry_their_updates_and_affected_components(client, busy):
    document = v2(client, busy.slug, "incidents.json")
    check_page(document["page"], busy.slug)
    incidents = document["incidents"]
    assert [(i["name"], i["status"], i["impact"]) for i in incidents] == [
        ("Card payments fail", "investigating", "critical"),
        ("Slow logins", "resolved", "minor"),
    ]
    for incident in incidents:
        check_incident(incident, document["page"]["id"], busy.slug)
    resolved = incidents[1]
    assert [u["status"] for u in resolved["incident_updates"]] == ["resolved", "investigating"]
    assert resolved["incident_updates"][0]["affected_components"] == [
        {
            "code": resolved["components"][0]["id"],
            "name": "Website",
            "old_status": "degraded_performance",
            "new_status": "operational",
        }
    ]
    assert resolved["resolved_at"] is not None and resolved["monitoring_at"] is None
    unresolved = v2(client, busy.slug, "incidents/unresolved.json")
    assert [i["name"] for i in unresolved["incidents"]] == ["Card payments fail"]
    assert {c["name"] for c in unresolved["incidents"][0]["components"]} == {"API", "EU"}


def test_maintenances_upcoming_and_active(client, busy):
    every = v2(client, busy.slug, "scheduled-maintenances.json")
    for maintenance in every["scheduled_maintenances"]:
        check_maintenance(maintenance, every["page"]["id"])
    assert {m["name"] for m in every["scheduled_maintenances"]} == {
        "Database upgrade",
        "Network work",
    }
    upcoming = v2(client, busy.slug, "scheduled-maintenances/upcoming.json")
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["Database upgrade"]
    active = v2(client, busy.slug, "scheduled-maintenances/active.json")
    [network] = active["scheduled_maintenances"]
    assert network["status"] == "in_progress"
    assert [u["status"] for u in network["incident_updates"]] == ["in_progress", "scheduled"]
    assert [c["name"] for c in network["components"]] == ["US"]


def test_status_json_is_page_and_status_only(client, busy):
    document = v2(client, busy.slug, "status.json")
    assert set(document) == {"page", "status"}
    check_status(document["status"])


def test_an_operational_page_says_so(client, db, admin):
    world = build_page(db, admin, slug="calm")
    assert v2(client, world.slug, "status.json")["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }
    assert v2(client, world.slug, "summary.json")["incidents"] == []


def test_nothing_internal_reaches_the_public(client, db, make_user, busy):
    author = make_user("responder", name="Zed Secretname", email="zed@internal.example")
    with db.begin() as session:
        linked = incidents.declare_incident(
            session, author, IncidentCreate(summary="Primary db-7 failed over", severity="SEV1")
        )
    publish(db, author, busy, name="Another", incident_key=linked.key)
    documents = [
        client.get(f"/status/{busy.slug}/api/v2/{name}").text
        for name in ("summary.json", "incidents.json", "scheduled-maintenances.json")
    ]
    pages = [
        client.get(f"/status/{busy.slug}").text,
        client.get(f"/status/{busy.slug}/history").text,
        client.get(f"/status/{busy.slug}/history.atom").text,
    ]
    for body in documents + pages:
        assert "Secretname" not in body and "internal.example" not in body
        assert linked.key not in body and "db-7" not in body and "SEV1" not in body
    for body in documents:
        assert "author" not in body and "incident_key" not in body


def test_the_atom_feed_lists_incidents(client, busy):
    response = client.get(f"/status/{busy.slug}/history.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ElementTree.fromstring(response.content)
    assert feed.tag == f"{atom}feed"
    assert feed.find(f"{atom}title").text == "Acme Cloud status"
    titles = [e.find(f"{atom}title").text for e in feed.findall(f"{atom}entry")]
    assert set(titles) == {"Card payments fail", "Slow logins", "Database upgrade", "Network work"}
    entry = feed.find(f"{atom}entry")
    assert (
        entry.find(f"{atom}link").get("href").startswith(f"http://testserver/status/{busy.slug}/")
    )
    assert "<strong>" in entry.find(f"{atom}content").text


def test_unknown_pages_and_incidents_are_404(client, busy):
    assert_error(client.get("/status/nope/api/v2/summary.json"), 404, "not_found")
    assert_error(client.get(f"/status/{busy.slug}/incidents/aaaaaaaaaaaa"), 404, "not_found")
    assert_error(client.get(f"/status/{busy.slug}/incidents/a.b"), 404)


# ---------------------------------------------------------------- private pages


def test_a_private_page_needs_a_login_every_time(client, db, admin, api_as, viewer):
    world = build_page(db, admin, slug="internal", public=False)
    for path in ("/status/internal", "/status/internal/api/v2/summary.json"):
        assert_error(client.get(path), 401, "unauthenticated")
        browser = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert browser.status_code == 303 and browser.headers["location"].startswith("/login")
    reader = api_as(viewer)
    allowed = reader.get("/status/internal/api/v2/summary.json")
    assert allowed.status_code == 200
    assert allowed.headers["cache-control"] == "private, no-cache"
    assert "access-control-allow-origin" not in allowed.headers
    # ...and the copy now in the cache is never handed to the next anonymous reader.
    assert_error(client.get("/status/internal/api/v2/summary.json"), 401)
    del world


# ---------------------------------------------------------------- the management API


def test_admins_build_pages_and_responders_publish_through_the_api(
    api_as, admin, responder, viewer
):
    ada, rita, vic = api_as(admin), api_as(responder), api_as(viewer)
    page = ada.post("/api/v1/status-pages", json={"slug": "shop", "name": "Shop"})
    assert page.status_code == 201, page.text
    page_id = page.json()["id"]
    api = ada.post(f"/api/v1/status-pages/{page_id}/components", json={"name": "API"}).json()
    assert_error(rita.post(f"/api/v1/status-pages/{page_id}/components", json={"name": "DNS"}), 403)
    created = rita.post(
        f"/api/v1/status-pages/{page_id}/incidents",
        json={
            "name": "Checkout errors",
            "body": "We are looking into it.",
            "components": [{"component_id": api["id"], "status": "major_outage"}],
        },
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["impact"] == "critical" and incident["incident_key"] is None
    assert_error(
        vic.post(
            f"/api/v1/status-pages/{page_id}/incidents/{incident['id']}/updates",
            json={"status": "resolved", "body": "x"},
        ),
        403,
    )
    resolved = rita.post(
        f"/api/v1/status-pages/{page_id}/incidents/{incident['id']}/updates",
        json={"status": "resolved", "body": "Fixed."},
    )
    assert resolved.status_code == 201, resolved.text
    assert [u["status"] for u in resolved.json()["updates"]] == ["resolved", "investigating"]
    assert (
        ada.get(f"/api/v1/status-pages/{page_id}/components").json()[0]["status"] == "operational"
    )
    bad = rita.post(
        f"/api/v1/status-pages/{page_id}/incidents",
        json={
            "name": "x",
            "body": "y",
            "components": [{"component_id": api["id"], "status": "down"}],
        },
    )
    assert_error(bad, 422, field="components.0.status")
    assert_error(ada.post("/api/v1/status-pages", json={"slug": "shop", "name": "Again"}), 409)
    assert_error(ada.post("/api/v1/status-pages", json={"slug": "Bad Slug!", "name": "X"}), 422)


def test_a_linked_incident_key_shows_to_those_who_may_see_it(api_as, admin, responder):
    rita = api_as(responder)
    declared = rita.post("/api/v1/incidents", json={"summary": "DB down", "severity": "SEV1"})
    page_id = (
        api_as(admin).post("/api/v1/status-pages", json={"slug": "s", "name": "S"}).json()["id"]
    )
    created = rita.post(
        f"/api/v1/status-pages/{page_id}/incidents",
        json={"name": "Outage", "body": "Looking.", "incident_key": declared.json()["key"]},
    )
    assert created.json()["incident_key"] == "INC-1"
    missing = rita.post(
        f"/api/v1/status-pages/{page_id}/incidents",
        json={"name": "Outage", "body": "Looking.", "incident_key": "INC-99"},
    )
    assert_error(missing, 422, field="incident_key")


# ---------------------------------------------------------------- the cache


def test_etag_and_last_modified_answer_304(client, busy):
    path = f"/status/{busy.slug}/api/v2/summary.json"
    first = client.get(path)
    assert first.headers["cache-control"] == "public, max-age=1"
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["vary"] == "Accept-Encoding"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(path, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"if-none-match": f'W/{etag}, "other"'}).status_code == 304
    assert client.get(path, headers={"if-none-match": '"other"'}).status_code == 200
    assert client.get(path, headers={"if-modified-since": modified}).status_code == 304
    assert (
        client.get(path, headers={"if-modified-since": "Thu, 01 Jan 2015 00:00:00 GMT"}).status_code
        == 200
    )
    assert client.get(path, headers={"if-modified-since": "yesterday"}).status_code == 200
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == first.headers["content-length"]


def test_security_headers_come_once_on_both_paths(client, busy):
    path = f"/status/{busy.slug}/api/v2/status.json"
    for _ in range(2):  # the first answer comes from the route, the second from the fast path
        answer = client.get(path)
        assert answer.headers.get_list("x-frame-options") == ["DENY"]
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]


def test_gzip_is_served_to_those_who_ask(client, busy):
    path = f"/status/{busy.slug}"
    packed = client.get(path, headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "Major Service Outage" in packed.text  # httpx unpacks it
    raw = client.get(path, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert int(packed.headers["content-length"]) < len(raw.content) / 3
    assert gzip.compress(b"x")  # (the body is compressed once per page version, not per request)


def test_an_update_shows_at_once_in_this_process(client, db, busy, responder):
    path = f"/status/{busy.slug}/api/v2/summary.json"
    before = client.get(path)
    [incident] = statuspage_incidents(db, busy)
    update(db, responder, busy, incident, "identified", body="A bad deploy; rolling back.")
    after = client.get(path, headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert (
        after.json()["incidents"][0]["incident_updates"][0]["body"] == "A bad deploy; rolling back."
    )
    assert after.json()["incidents"][0]["status"] == "identified"


def statuspage_incidents(db, world) -> list[int]:
    with db.begin() as session:
        return [
            i.id for i in statuspage.list_incidents(session, world.page_id, unresolved_only=True)
        ]


def wait_until(condition, deadline: float = 10.0) -> None:
    """Polls `condition` until it holds; fails when the deadline passes."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < give_up, "the condition did not hold in time"
        pause.wait(0.01)  # a poll interval, not a wait for something to happen


def post_from_another_process(
    database_url: str, page_id: int, incident_id: int, status: str
) -> None:
    writer = f"""
from tocsin.db import Database
from tocsin.auth.models import User
from tocsin.statuspage import service
from tocsin.statuspage.schemas import UpdatePost
db = Database({database_url!r})
with db.begin() as session:
    actor = session.query(User).filter_by(role="admin").first()
    service.post_update(session, actor, {page_id}, {incident_id},
                        UpdatePost(status={status!r}, body="News from another process."))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", writer], check=True, env=env, cwd=ROOT, timeout=60)


def test_another_process_update_shows_within_a_second(client, db, busy, clock, database_url):
    """The writer is a real second process: this one learns only from the page's version."""
    path = f"/status/{busy.slug}/api/v2/summary.json"

    def status() -> str:
        incidents = client.get(path).json()["incidents"]
        return incidents[0]["status"] if incidents else "gone"

    assert status() == "investigating"
    [incident] = statuspage_incidents(db, busy)
    post_from_another_process(database_url, busy.page_id, incident, "monitoring")
    # Within the TTL this process answers from memory, without reading the database...
    assert status() == "investigating"
    # ...past it (half a second), readers still get that copy while one check reads the
    # version in the background; then, with no more time passing, they get the update.
    clock.advance(seconds=0.5)
    status()
    wait_until(lambda: status() == "monitoring")
    # Past the TTL and the grace (one second), the first reader checks the version itself.
    post_from_another_process(database_url, busy.page_id, incident, "resolved")
    clock.advance(seconds=1.0)
    assert status() == "gone"  # resolved: no unresolved incident left in the summary


@pytest.fixture
def statements(db):
    """Counts the SQL statements the database receives."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):  # SQLite's own
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def test_a_thousand_refreshes_read_the_database_once_per_ttl(client, busy, clock, statements):
    paths = [f"/status/{busy.slug}", f"/status/{busy.slug}/api/v2/summary.json"]
    for path in paths:
        assert client.get(path).status_code == 200  # fills the cache
    statements.clear()
    for _ in range(500):
        for path in paths:
            assert client.get(path).status_code == 200
    assert statements == []
    clock.advance(seconds=0.6)  # past the TTL: the next reader starts one background check
    assert client.get(paths[0]).status_code == 200
    wait_until(lambda: len(statements) >= 1)
    for _ in range(100):
        for path in paths:
            assert client.get(path).status_code == 200
    # One indexed read of the page's version, and nothing more: the version is unchanged.
    assert len(statements) == 1 and "status_pages.version" in statements[0]


def test_the_page_moves_on_at_midnight_without_any_change(client, db, admin, clock, statements):
    """The day bars and the past days follow the calendar, not only the writes."""
    world = build_page(db, admin)  # UTC
    clock.current = clock.current.replace(hour=23, minute=59, second=59)
    today = client.get(f"/status/{world.slug}")
    assert "Mar 2, 2026" in today.text and "Mar 3, 2026" not in today.text
    statements.clear()
    clock.advance(seconds=2)  # 00:00:01 on March 3rd
    tomorrow = client.get(f"/status/{world.slug}")
    assert "Mar 3, 2026" in tomorrow.text
    assert tomorrow.headers["etag"] != today.headers["etag"]
    assert tomorrow.headers["last-modified"] == "Tue, 03 Mar 2026 00:00:00 GMT"
    # Drawn again from the snapshot it had: one version check, no reload of the page's data.
    assert len(statements) == 1 and "status_pages.version" in statements[0]


# ---------------------------------------------------------------- start dates and past uptime


def api_bars(client, slug: str) -> dict[str, str]:
    """The API row's 90 bars (the page's first), by day: "ok", "nodata" or what went wrong."""
    html = client.get(f"/status/{slug}").text
    first = re.search(r'<span class="sp-bars"[^>]*>(.*?)</span>', html, flags=re.S).group(1)
    bars = re.findall(r'<i(?: class="b-(\w+)")?(?: title="([^"]*)")?></i>', first)
    assert len(bars) == 90
    days = [(date(2026, 3, 2) - timedelta(days=89 - n)).isoformat() for n in range(90)]
    return {day: title or css or "ok" for day, (css, title) in zip(days, bars, strict=True)}


def components_json(client, slug: str) -> list[dict]:
    return client.get(f"/status/{slug}/api/v2/components.json").json()["components"]


def test_a_start_date_is_set_on_a_component_and_statuspage_json_keeps_its_shape(
    clock, api_as, client, db, admin, responder
):
    world = build_page(db, admin)
    base = f"/api/v1/status-pages/{world.page_id}/components"
    before = components_json(client, world.slug)
    assert {c["start_date"] for c in before if not c["group"]} == {"2026-03-02"}  # added today
    created = api_as(admin).post(base, json={"name": "DNS", "start_date": "2026-02-01"})
    assert created.status_code == 201, created.text
    assert created.json()["start_date"] == "2026-02-01"
    changed = api_as(admin).patch(f"{base}/{world.api}", json={"start_date": "2026-01-15"})
    assert changed.status_code == 200 and changed.json()["start_date"] == "2026-01-15"
    after = components_json(client, world.slug)
    assert [set(c) for c in after[: len(before)]] == [set(c) for c in before]
    shown = {c["name"]: c["start_date"] for c in after}
    assert shown["API"] == "2026-01-15" and shown["DNS"] == "2026-02-01"
    # The public page: API measured from Jan 15 (no data before), DNS from Feb 1.
    bars = api_bars(client, world.slug)
    assert bars["2026-01-14"] == "nodata" and bars["2026-01-15"] == "ok"
    for bad in ("2026-03-03", "2026-02-30", "02/01/2026", 20260201, True, "1999-12-31"):
        assert_error(
            api_as(admin).patch(f"{base}/{world.api}", json={"start_date": bad}),
            422,
            field="start_date",
        )
    assert_error(
        api_as(responder).patch(f"{base}/{world.api}", json={"start_date": "2026-02-01"}), 403
    )
    assert components_json(client, world.slug)[0]["start_date"] == "2026-01-15"


def test_past_uptime_is_imported_and_shows_on_the_bars_and_the_percentage(
    clock, api_as, client, db, admin
):
    """Moving in from another tool: a component added today (Mar 2) gets its February."""
    world = build_page(db, admin)
    url = f"/api/v1/status-pages/{world.page_id}/components/{world.api}/uptime"
    days = [
        {"date": "2026-02-20", "outage_minutes": 30},
        {"date": "2026-02-21", "uptime_percent": 99.5},
        {"date": "2026-02-22", "outage_minutes": 0},
    ]
    imported = api_as(admin).post(url, json={"days": days})
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert body["start_date"] == "2026-02-20"  # moved back to the first imported day
    assert [(d["date"], round(d["outage_minutes"], 2)) for d in body["days"]] == [
        ("2026-02-20", 30.0),
        ("2026-02-21", 7.2),  # 0.5 % of 24 hours
        ("2026-02-22", 0.0),
    ]
    bars = api_bars(client, world.slug)
    assert bars["2026-02-19"] == "nodata"
    assert bars["2026-02-20"] == "Feb 20, 2026: major outage 30m"
    assert bars["2026-02-21"] == "Feb 21, 2026: major outage 7m"
    assert bars["2026-02-22"] == bars["2026-02-23"] == bars["2026-03-02"] == "ok"
    html = client.get(f"/status/{world.slug}").text
    measured = (10 * 24 + 9) * 3600  # Feb 20 00:00 to Mar 2 09:00
    percent = 100 * (1 - (30 + 7.2) * 60 / measured)
    assert f"{math.floor(percent * 100) / 100:.2f} % uptime" in html.replace("\n", " ")
    # A day sent again replaces its import.
    again = api_as(admin).post(url, json={"days": [{"date": "2026-02-20", "outage_minutes": 5}]})
    assert again.json()["days"][0] == {"date": "2026-02-20", "outage_minutes": 5}
    assert api_bars(client, world.slug)["2026-02-20"] == "Feb 20, 2026: major outage 5m"
    assert components_json(client, world.slug)[0]["start_date"] == "2026-02-20"


@pytest.mark.parametrize(
    ("days", "field"),
    [
        ([{"date": "2026-03-02", "outage_minutes": 1}], "days.0.date"),  # today
        ([{"date": "2026-03-05", "outage_minutes": 1}], "days.0.date"),  # future
        ([{"date": "2025-12-02", "outage_minutes": 1}], "days.0.date"),  # before the 90 days
        (
            [
                {"date": "2026-02-01", "outage_minutes": 1},
                {"date": "2026-02-01", "uptime_percent": 9},
            ],
            "days.1.date",
        ),
        ([{"date": "2026-02-01"}], "days.0"),
        ([{"date": "2026-02-01", "outage_minutes": 1, "uptime_percent": 99}], "days.0"),
        ([{"date": "2026-02-01", "outage_minutes": 1441}], "days.0.outage_minutes"),
        ([{"date": "2026-02-01", "outage_minutes": -1}], "days.0.outage_minutes"),
        ([{"date": "2026-02-01", "outage_minutes": True}], "days.0.outage_minutes"),
        ([{"date": "2026-02-01", "outage_minutes": "10"}], "days.0.outage_minutes"),
        ([{"date": "2026-02-01", "uptime_percent": 100.5}], "days.0.uptime_percent"),
        ([{"date": 20260201, "uptime_percent": 99}], "days.0.date"),
        ([{"date": "2026-02-01", "uptime_percent": 99, "note": "x"}], "days.0.note"),
        ([], "days"),
        ([{"date": "2026-02-01", "outage_minutes": 1}] * 91, "days"),
    ],
)
def test_bad_past_uptime_is_refused_whole(clock, api_as, client, db, admin, days, field):
    world = build_page(db, admin)
    url = f"/api/v1/status-pages/{world.page_id}/components/{world.api}/uptime"
    good = {"date": "2026-02-25", "outage_minutes": 60}
    refused = api_as(admin).post(
        url, json={"days": [*days, good] if days and len(days) < 90 else days}
    )
    assert_error(refused, 422, field=field)
    assert api_bars(client, world.slug)["2026-02-25"] == "nodata"
    assert components_json(client, world.slug)[0]["start_date"] == "2026-03-02"


def test_only_an_admin_imports_past_uptime_and_only_into_a_component_of_that_page(
    clock, api_as, db, admin, responder
):
    world = build_page(db, admin)
    other = build_page(db, admin, slug="other")
    body = {"days": [{"date": "2026-02-25", "outage_minutes": 1}]}
    url = f"/api/v1/status-pages/{world.page_id}/components/{{}}/uptime"
    assert_error(api_as(responder).post(url.format(world.api), json=body), 403)
    assert_error(api_as(admin).post(url.format(other.api), json=body), 404, field="component_id")
    assert_error(api_as(admin).post(url.format(999_999), json=body), 404, field="component_id")


# ---------------------------------------------------------------- random input, never a 5xx

ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=12)
    | st.sampled_from(["", "\x00", "x" * 20_001, "major_outage", "resolved", "2026-03-02T10:00"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=5,
)
VALID = {
    "": {"slug": "new-page", "name": "New"},
    "/components": {"name": "DNS", "status": "degraded_performance"},
    "/groups": {"name": "Europe"},
    "/incidents": {
        "name": "Outage",
        "body": "Looking.",
        "components": [{"component_id": 1, "status": "major_outage"}],
    },
    "/incidents/1/updates": {"status": "identified", "body": "Found it."},
    "/maintenances": {
        "name": "Upgrade",
        "scheduled_for": "2026-03-03T10:00:00Z",
        "scheduled_until": "2026-03-03T11:00:00Z",
        "body": "Planned.",
    },
    "/maintenances/1/updates": {"status": "in_progress", "body": "Started."},
    "/components/1/uptime": {"days": [{"date": "2026-02-20", "outage_minutes": 3}]},
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_input_to_status_page_endpoints_never_gets_a_5xx(api_as, admin, db, data):
    ada = api_as(admin)
    page = ada.get("/api/v1/status-pages").json()
    if not page:
        world = build_page(db, admin)
        publish(db, admin, world)
    suffix = data.draw(st.sampled_from(list(VALID)))
    base = "/api/v1/status-pages" + ("" if suffix == "" else "/1")
    changes = data.draw(
        st.dictionaries(st.sampled_from([*VALID[suffix], "x"]), ANYTHING, max_size=2)
    )
    body = data.draw(st.sampled_from([{**VALID[suffix], **changes}, changes]) | ANYTHING)
    method = data.draw(st.sampled_from(["POST", "PATCH"]))
    target = base + suffix if method == "POST" else base + suffix.removesuffix("/updates")
    response = ada.request(method, target, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, response.status_code)


PAST_DAY_VALUES = (
    ANYTHING
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**40), 2**40)
    | st.dates(date(1990, 1, 1), date(2030, 1, 1)).map(date.isoformat)
)


def imported_now(db) -> list[tuple[str, float]]:
    with db.begin() as session:
        return [
            (d.day.isoformat(), d.downtime_seconds)
            for d in statuspage.imported_days(session, 1, date.min)
        ]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_past_uptime_never_gets_a_5xx_nor_a_half_import(api_as, admin, db, clock, data):
    """Whatever the days say (huge numbers, odd dates, wrong types), a 4xx in the error shape,
    and a refused import stores none of its days."""
    ada = api_as(admin)
    if not ada.get("/api/v1/status-pages").json():
        build_page(db, admin)
    keys = st.sampled_from(["date", "outage_minutes", "uptime_percent", "x"])
    days = data.draw(
        st.lists(st.dictionaries(keys, PAST_DAY_VALUES, max_size=3), min_size=0, max_size=3)
    )
    before = imported_now(db)
    response = ada.post("/api/v1/status-pages/1/components/1/uptime", json={"days": days})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, response.status_code)
        assert imported_now(db) == before
