"""`/metrics`, as the team running Tocsin scrapes it: open work, the outbox, and whether the
engine keeps up, parsed with the Prometheus client library's own text parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.alerting import make_integration, run_engine
from tests.conftest import assert_error, browser_login
from tests.test_alerts_ingest import event
from tocsin.auth.models import Role
from tocsin.config import Settings


def scrape(api) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, keyed by name and labels."""
    response = api.get("/metrics", headers={"accept": "text/plain;version=0.0.4"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def test_metrics_need_a_login_and_any_role_may_read_them(client, api_as, viewer):
    assert_error(client.get("/metrics"), 401, "unauthenticated")
    browser = client.get("/metrics", headers={"accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"].startswith("/login")
    samples = scrape(api_as(viewer))
    [(labels, one)] = [(dict(k[1]), v) for k, v in samples.items() if k[0] == "tocsin_build_info"]
    assert one == 1 and labels["database"] in ("sqlite", "postgresql") and labels["version"]


def test_open_alerts_and_how_long_new_ones_wait_for_the_router(client, ada, db, clock):
    key = make_integration(ada, "pagerduty")["key"]
    for dedup_key, severity in (("disk", "critical"), ("cpu", "warning"), ("ram", "warning")):
        body = event(key, dedup_key=dedup_key, severity=severity)
        assert client.post("/v2/enqueue", json=body).status_code == 202
    client.post("/v2/enqueue", json=event(key, "acknowledge", dedup_key="cpu"))
    client.post("/v2/enqueue", json=event(key, "resolve", dedup_key="ram"))

    clock.advance(seconds=45)  # no engine has run: the router is 45 s behind
    samples = scrape(ada)
    assert value(samples, "tocsin_alerts_open", status="triggered", severity="critical") == 1
    assert value(samples, "tocsin_alerts_open", status="acknowledged", severity="warning") == 1
    # Resolved alerts are not open; absent combinations are there as zero.
    assert value(samples, "tocsin_alerts_open", status="triggered", severity="warning") == 0
    assert value(samples, "tocsin_alerts_open", status="triggered", severity="info") == 0
    assert value(samples, "tocsin_engine_backlog_seconds", work="alert_routing") == 45

    run_engine(db)
    samples = scrape(ada)
    assert value(samples, "tocsin_engine_backlog_seconds", work="alert_routing") == 0
    assert value(samples, "tocsin_alerts_open", status="triggered", severity="critical") == 1


def test_a_quiet_heartbeat_shows_as_backlog_until_the_engine_raises_its_alert(
    client, ada, db, clock
):
    hb = make_integration(
        ada, "heartbeat", heartbeat_interval_seconds=60, heartbeat_grace_seconds=30
    )
    client.get(f"/heartbeats/{hb['key']}")
    clock.advance(seconds=100)  # 10 s past interval plus grace
    assert value(scrape(ada), "tocsin_engine_backlog_seconds", work="heartbeats") == 10
    run_engine(db)
    samples = scrape(ada)
    assert value(samples, "tocsin_engine_backlog_seconds", work="heartbeats") == 0
    assert value(samples, "tocsin_alerts_open", status="triggered", severity="critical") == 1


def rita_pages_bob(api_as, responder, make_user) -> tuple[object, object]:
    """Rita declares a SEV1 and pages Bob by name; returns her client and Bob."""
    rita = api_as(responder)
    bob = make_user(Role.RESPONDER, name="Bob Builder", email="bob@example.com")
    incident = rita.post(
        "/api/v1/incidents", json={"summary": "Checkout fails", "severity": "SEV1"}
    ).json()
    page = rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    assert page.status_code == 201, page.text
    return rita, bob


def test_failing_deliveries_and_stalled_escalation_are_visible(
    db, clock, api_as, responder, make_user, smtp_server
):
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    rita, bob = rita_pages_bob(api_as, responder, make_user)

    clock.advance(seconds=20)  # the page's first step is due, and no engine runs
    samples = scrape(rita)
    assert value(samples, "tocsin_incidents_active", severity="SEV1", status="open") == 1
    assert value(samples, "tocsin_pages_active") == 1
    assert value(samples, "tocsin_engine_backlog_seconds", work="escalation") == 20

    smtp_server.refusing = True
    run_engine(db, settings)
    samples = scrape(rita)
    assert value(samples, "tocsin_engine_backlog_seconds", work="escalation") == 0
    assert value(samples, "tocsin_notifications", status="pending") == 1
    assert value(samples, "tocsin_notifications_retrying") == 1
    assert value(samples, "tocsin_notifications", status="failed") == 0
    assert value(samples, "tocsin_engine_backlog_seconds", work="delivery") == 0  # retry not due

    # The engine stops: the retry falls due and waits, and the backlog says for how long.
    clock.advance(minutes=10)
    waited = value(scrape(rita), "tocsin_engine_backlog_seconds", work="delivery")
    assert 9 * 60 <= waited < 10 * 60  # due a little after the failed attempt

    smtp_server.refusing = False
    run_engine(db, settings)
    samples = scrape(rita)
    assert value(samples, "tocsin_notifications", status="pending") == 0
    assert value(samples, "tocsin_notifications_retrying") == 0
    assert value(samples, "tocsin_engine_backlog_seconds", work="delivery") == 0
    sent = [n["status"] for n in api_as(bob).get("/api/v1/me/notifications").json()["items"]]
    assert sent and set(sent) == {"sent"}  # the retried page, and the rule's reminder since


def health_page(app, user) -> str:
    with TestClient(app) as client:
        browser_login(client, user)
        response = client.get("/admin/health", headers={"accept": "text/html"})
    assert response.status_code == 200, response.text
    return response.text


def test_the_health_page_tells_an_admin_the_engine_is_behind_and_which_sends_fail(
    app, db, clock, api_as, admin, responder, make_user, smtp_server
):
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    rita_pages_bob(api_as, responder, make_user)
    smtp_server.refusing = True
    run_engine(db, settings)
    page = health_page(app, admin)
    assert "The engine is keeping up" in page
    assert "1 notification is failing to go out" in page
    assert "No mail server is set" in page  # this app has no TOCSIN_SMTP_URL
    assert "Bob Builder" in page and "retrying" in page and "451" in page

    clock.advance(minutes=5)  # the retry is due and no engine runs
    page = health_page(app, admin)
    assert "The engine is behind:" in page and "sending notifications is waiting" in page
    assert "4m" in page  # how long the retry has waited

    with TestClient(app) as client:
        browser_login(client, responder)
        refused = client.get("/admin/health", headers={"accept": "text/html"})
    assert refused.status_code == 403


def test_a_restricted_incident_is_counted_only_for_those_who_may_see_it(
    api_as, responder, viewer, admin, make_user
):
    rita = api_as(responder)
    bob = make_user(Role.RESPONDER, name="Bob")
    secret = rita.post(
        "/api/v1/incidents",
        json={"summary": "Customer data exposed", "severity": "SEV2", "restricted": True},
    ).json()
    rita.post(
        f"/api/v1/incidents/{secret['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    rita.post("/api/v1/incidents", json={"summary": "Slow search", "severity": "SEV2"})
    seen = {}
    for who, reader in (("viewer", viewer), ("admin", admin)):
        samples = scrape(api_as(reader))
        incidents = value(samples, "tocsin_incidents_active", severity="SEV2", status="open")
        seen[who] = (incidents, value(samples, "tocsin_pages_active"))
    assert seen == {"viewer": (1, 0), "admin": (2, 1)}
