"""The alert pages through TestClient: the list, the alert page and a service's alerting set-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient

from tests.alerting import run_engine
from tocsin.alerts import service as alerts
from tocsin.alerts.events import Action, AlertEvent, AlertSeverity
from tocsin.alerts.models import Integration
from tocsin.alerts.schemas import IntegrationCreate, MaintenanceCreate
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate, UserUpdate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate
from tocsin.deps import SESSION_COOKIE
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate


@dataclass
class Web:
    """A logged-in browser: its client, who it is, and the CSRF token its forms carry."""

    client: TestClient
    user: User
    csrf: str

    def get(self, url: str, **kwargs):
        return self.client.get(url, headers={"accept": "text/html"}, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: str | None = None, **kwargs):
        form = [("csrf_token", self.csrf if csrf is None else csrf)]
        for name, value in (data or {}).items():
            form += [(name, v) for v in (value if isinstance(value, list) else [value])]
        body = "&".join(f"{quote_plus(k)}={quote_plus(str(v))}" for k, v in form)
        headers = {"accept": "text/html", "content-type": "application/x-www-form-urlencoded"}
        return self.client.post(url, content=body, headers=headers, **kwargs)


class Page(HTMLParser):
    """What a person can see and do on a page: rows, forms, links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.keys: list[str] = []
        self.links: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            method = (attributes.get("method") or "get").lower()
            self.forms.append({"action": attributes.get("action"), "method": method, "csrf": None})
        if tag == "input" and attributes.get("name") == "csrf_token" and self.forms:
            self.forms[-1]["csrf"] = attributes.get("value")
        if tag == "li" and attributes.get("data-key"):
            self.keys.append(attributes["data-key"])
        if tag == "a":
            self.links.append(attributes)

    def post_actions(self) -> list[str]:
        return [f["action"] for f in self.forms if f["method"] == "post"]


def flash_text(html: str) -> str | None:
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', html, re.S)
    return f"{found.group(1)}|{unescape(found.group(2).strip())}" if found else None


def history(html: str) -> list[str]:
    return [unescape(e) for e in re.findall(r'<div class="what">(.*?)</div>', html, re.S)]


@pytest.fixture
def web_as(app, db) -> Iterator[Callable[[User], Web]]:
    clients: list[TestClient] = []

    def as_user(user: User) -> Web:
        with db.begin() as session:
            cookie, login = auth.start_login(session, session.get(User, user.id), 1)
            csrf = login.csrf_token
        client = TestClient(app, cookies={SESSION_COOKIE: cookie})
        clients.append(client)
        return Web(client, user, csrf)

    yield as_user
    for client in clients:
        client.close()


@pytest.fixture
def rita(web_as, responder) -> Web:
    return web_as(responder)


@pytest.fixture
def ada(web_as, admin) -> Web:
    return web_as(admin)


@dataclass
class Setup:
    """Two services, each with an integration; `send` stores events as a sender would."""

    db: object
    services: dict[str, int]
    integrations: dict[str, int]

    def send(self, service: str, dedup_key: str, **fields) -> int:
        action = fields.pop("action", Action.TRIGGER)
        fields.setdefault("title", f"{dedup_key} is failing")
        if "severity" in fields:
            fields["severity"] = AlertSeverity(fields["severity"])
        with self.db.begin() as session:
            integration = session.get(Integration, self.integrations[service])
            event = AlertEvent(action=action, dedup_key=dedup_key, **fields)
            [outcome] = alerts.ingest_events(session, integration, [event])
            return outcome.alert_id


@pytest.fixture
def setup(db, admin) -> Setup:
    with db.begin() as session:
        actor = session.get(User, admin.id)
        team = auth.create_team(session, actor, TeamCreate(name="Payments team"))
        services = {
            "payments": catalogue.create_service(
                session, actor, ServiceCreate(name="Payments", team_id=team.id)
            ).id,
            "search": catalogue.create_service(session, actor, ServiceCreate(name="Search")).id,
        }
        integrations = {}
        for name, service_id in services.items():
            data = IntegrationCreate(service_id=service_id, name=f"{name} probe", kind="pagerduty")
            integrations[name] = alerts.create_integration(session, actor, data)[0].id
    return Setup(db, services, integrations)


def keys(web: Web, query: str = "") -> list[str]:
    response = web.get(f"/alerts{query}")
    assert response.status_code == 200, response.text
    return Page(response.text).keys


# ---------------------------------------------------------------- the list


def test_the_list_shows_open_alerts_by_default_and_filters(rita, setup):
    setup.send("payments", "db", title="Database down", severity="critical")
    setup.send("payments", "cpu", title="CPU high", severity="warning")
    setup.send("search", "index", title="Index stale", severity="error")
    setup.send("search", "disk", title="Disk almost full", severity="info")
    with setup.db.begin() as session:
        alerts.acknowledge_alert(session, session.get(User, rita.user.id), 2)
        alerts.resolve_alert(session, session.get(User, rita.user.id), 4)

    assert keys(rita) == ["ALR-3", "ALR-2", "ALR-1"]  # open: triggered and acknowledged
    assert keys(rita, "?status=open") == ["ALR-3", "ALR-2", "ALR-1"]
    assert keys(rita, "?status=triggered") == ["ALR-3", "ALR-1"]
    assert keys(rita, "?status=acknowledged") == ["ALR-2"]
    assert keys(rita, "?status=resolved") == ["ALR-4"]
    assert keys(rita, "?status=all") == ["ALR-4", "ALR-3", "ALR-2", "ALR-1"]
    assert keys(rita, "?status=all&severity=info") == ["ALR-4"]
    assert keys(rita, "?severity=critical") == ["ALR-1"]
    assert keys(rita, f"?service_id={setup.services['search']}") == ["ALR-3"]
    assert keys(rita, "?q=database") == ["ALR-1"]
    assert keys(rita, "?q=ALR-3") == ["ALR-3"]
    assert keys(rita, "?q=cpu") == ["ALR-2"]  # the dedup key
    # What the filter form sends when nothing else is chosen: the open alerts.
    assert keys(rita, "?q=&status=open&severity=&service_id=") == ["ALR-3", "ALR-2", "ALR-1"]


def test_the_list_marks_the_quick_filter_and_shows_each_alerts_facts(rita, setup):
    setup.send("payments", "db", title="Database down", severity="critical")
    for _ in range(3):
        setup.send("payments", "db", title="Database down", severity="critical")
    page = rita.get("/alerts").text
    assert '<a href="/alerts" aria-current="page">Open</a>' in page
    assert '<a href="/alerts?status=triggered" >Triggered</a>' in page
    row = page.split('data-key="ALR-1"', 1)[1].split("</li>", 1)[0]
    assert 'data-severity="critical"' in row and 'data-status="triggered"' in row
    assert "Payments" in row and "\u00d74" in row and ">&lt;1m</time>" in row
    assert '<a class="summary" href="/alerts/1">Database down</a>' in row

    triggered = rita.get("/alerts?status=triggered").text
    assert '<a href="/alerts?status=triggered" aria-current="page">Triggered</a>' in triggered
    all_ = rita.get("/alerts?status=all").text
    assert '<a href="/alerts?status=all" aria-current="page">All</a>' in all_

    empty = rita.get("/alerts?severity=info").text
    assert "No alerts match these filters." in empty


def test_suppressed_alerts_and_their_incident_show_in_the_list(
    rita, setup, admin, responder, clock
):
    window = MaintenanceCreate(
        service_id=setup.services["search"],
        starts_at=clock.current,
        ends_at=clock.current + timedelta(hours=1),
    )
    with setup.db.begin() as session:
        alerts.create_maintenance(session, session.get(User, admin.id), window)
    setup.send("search", "index", title="Index stale")
    setup.send("payments", "db", title="Database down")
    run_engine(setup.db)
    with setup.db.begin() as session:
        alerts.declare_incident_from_alert(session, session.get(User, responder.id), 2)
    row = rita.get("/alerts").text.split('data-key="ALR-1"', 1)[1].split("</li>", 1)[0]
    assert ">suppressed</span>" in row
    linked = rita.get("/alerts").text.split('data-key="ALR-2"', 1)[1].split("</li>", 1)[0]
    assert '<a class="incident-link" href="/incidents/INC-1">INC-1</a>' in linked


def test_the_list_pages_with_a_cursor(rita, setup):
    with setup.db.begin() as session:
        integration = session.get(Integration, setup.integrations["payments"])
        events = [
            AlertEvent(action=Action.TRIGGER, dedup_key=f"k{n}", title=f"Alert {n}")
            for n in range(55)
        ]
        alerts.ingest_events(session, integration, events)
    first = rita.get("/alerts?severity=error").text
    assert len(Page(first).keys) == 50 and Page(first).keys[0] == "ALR-55"
    older = re.search(r'<a class="button" href="([^"]+)">Older alerts</a>', first)[1]
    assert "severity=error" in unescape(older)
    second = rita.get(unescape(older)).text
    assert Page(second).keys == ["ALR-5", "ALR-4", "ALR-3", "ALR-2", "ALR-1"]
    assert "Older alerts" not in second


def test_a_bad_filter_is_a_readable_page_not_a_crash(rita):
    response = rita.get("/alerts?severity=apocalyptic")
    assert response.status_code == 422
    assert "<html" in response.text and "Severity" in response.text
    assert rita.get("/alerts?cursor=nonsense").status_code == 422
    assert rita.get("/alerts/999").status_code == 404


# ---------------------------------------------------------------- the alert page


def test_the_alert_page_shows_payload_links_labels_and_history(rita, setup):
    alert_id = setup.send(
        "payments",
        "fp-1",
        title="Error rate > 5%",
        severity="critical",
        source="web-1",
        labels={"alertname": "HighErrorRate", "instance": "web-1"},
        details={"annotations": {"summary": "Error rate > 5%"}, "startsAt": "2026-03-02T08:59"},
        links=[
            {"href": "http://prom.local/graph?g0.expr=rate", "text": "Prometheus graph"},
            {"href": "javascript:alert(1)", "text": "Sneaky"},
        ],
    )
    page = rita.get(f"/alerts/{alert_id}").text
    assert '<h1 id="alert-title">Error rate &gt; 5%</h1>' in page
    assert 'data-severity="critical"' in page and 'data-status="triggered"' in page
    graph = next(a for a in Page(page).links if "prom.local" in (a.get("href") or ""))
    assert graph["href"] == "http://prom.local/graph?g0.expr=rate"
    assert graph["target"] == "_blank" and "noopener" in graph["rel"].split()
    assert "source-link-main" in graph["class"]
    assert not any("javascript:" in (a.get("href") or "") for a in Page(page).links)
    assert '<span class="label-key">alertname</span><span class="label-value">HighErrorRate' in page
    # The details, pretty-printed, as text.
    payload = unescape(re.search(r'<pre class="payload"[^>]*>(.*?)</pre>', page, re.S)[1])
    assert payload.startswith('{\n  "annotations": {\n    "summary": "Error rate > 5%"\n  },')
    assert history(page) == ["Triggered through payments probe: Error rate > 5%"]


def test_acknowledge_then_resolve_through_the_forms(rita, setup):
    alert_id = setup.send("payments", "db", title="Database down")
    page = rita.get(f"/alerts/{alert_id}").text
    assert Page(page).post_actions()[1:3] == [
        f"/alerts/{alert_id}/acknowledge",
        f"/alerts/{alert_id}/resolve",
    ]
    for form in Page(page).forms:
        if form["method"] == "post":
            assert form["csrf"] == rita.csrf, form

    acked = rita.post(f"/alerts/{alert_id}/acknowledge")
    assert flash_text(acked.text) == f"ok|ALR-{alert_id} is acknowledged."
    assert 'data-status="acknowledged"' in acked.text
    assert f"by {rita.user.name}, just now" in acked.text
    assert "/acknowledge" not in " ".join(Page(acked.text).post_actions())
    assert f"/alerts/{alert_id}/resolve" in Page(acked.text).post_actions()

    resolved = rita.post(f"/alerts/{alert_id}/resolve")
    assert flash_text(resolved.text) == f"ok|ALR-{alert_id} is resolved."
    assert 'data-status="resolved"' in resolved.text
    assert 'id="alert-actions"' not in resolved.text
    assert history(resolved.text)[:2] == [
        f"Resolved by {rita.user.name}",
        f"Acknowledged by {rita.user.name}",
    ]
    again = rita.post(f"/alerts/{alert_id}/acknowledge")
    assert flash_text(again.text) == f"error|ALR-{alert_id} is already resolved."


def test_a_form_without_the_csrf_token_changes_nothing(rita, setup):
    alert_id = setup.send("payments", "db")
    refused = rita.post(f"/alerts/{alert_id}/acknowledge", csrf="forged")
    assert refused.status_code == 403
    assert 'data-status="triggered"' in rita.get(f"/alerts/{alert_id}").text


def test_declare_incident_in_one_click_lands_on_the_incident(rita, setup, responder):
    alert_id = setup.send("payments", "db", title="Database down", severity="error")
    page = rita.get(f"/alerts/{alert_id}").text
    # The severity comes from the alert's: error -> SEV2.
    assert '<option value="SEV2" selected>' in page
    declared = rita.post(
        f"/alerts/{alert_id}/incident", {"severity": "SEV2"}, follow_redirects=False
    )
    assert declared.status_code == 303
    assert declared.headers["location"] == "/incidents/INC-1"
    incident = rita.get("/incidents/INC-1").text
    assert flash_text(incident) == (
        f"ok|INC-1 is declared from ALR-{alert_id}. You are its incident manager."
    )
    assert "Database down" in incident and 'data-severity="SEV2"' in incident
    # The incident page leads back to its alert: payload and graph links are a tap away.
    linked = incident.split('id="linked-alerts"', 1)[1].split("</section>", 1)[0]
    assert f'href="/alerts/{alert_id}"' in linked and "Database down" in linked
    assert "1 open" in linked

    alert = rita.get(f"/alerts/{alert_id}").text
    assert '<a href="/incidents/INC-1" class="linked-incident-link">' in alert
    assert f"/alerts/{alert_id}/incident" not in Page(alert).post_actions()
    assert f"/alerts/{alert_id}/attach" not in Page(alert).post_actions()
    again = rita.post(f"/alerts/{alert_id}/incident", {"severity": "SEV1"})
    assert flash_text(again.text) == f"error|ALR-{alert_id} is already linked to INC-1."


def test_declare_with_a_severity_override(rita, setup):
    alert_id = setup.send("payments", "db", severity="warning")
    assert '<option value="SEV3" selected>' in rita.get(f"/alerts/{alert_id}").text
    rita.post(f"/alerts/{alert_id}/incident", {"severity": "SEV1"})
    assert 'data-severity="SEV1"' in rita.get("/incidents/INC-1").text
    junk = setup.send("payments", "other")
    refused = rita.post(f"/alerts/{junk}/incident", {"severity": "SEV9"})
    assert flash_text(refused.text).startswith("error|Severity: choose")


def test_attach_to_an_existing_incident(rita, setup, responder, db):
    with db.begin() as session:
        actor = session.get(User, responder.id)
        incidents.declare_incident(
            session, actor, IncidentCreate(summary="Checkout", severity="SEV2")
        )
    alert_id = setup.send("payments", "db", title="Database down")
    # The open incidents are offered, so nobody has to remember a key at 3 a.m.
    offered = rita.get(f"/alerts/{alert_id}").text.split('<datalist id="open-incidents">')[1]
    assert '<option value="INC-1">SEV2 · Checkout</option>' in offered.split("</datalist>")[0]
    missing = rita.post(f"/alerts/{alert_id}/attach", {"incident_key": "INC-99"})
    assert flash_text(missing.text) == "error|No incident INC-99."
    empty = rita.post(f"/alerts/{alert_id}/attach", {"incident_key": "  "})
    assert flash_text(empty.text) == "error|Incident key is required."
    attached = rita.post(f"/alerts/{alert_id}/attach", {"incident_key": "inc-1"})
    assert flash_text(attached.text) == f"ok|ALR-{alert_id} is linked to INC-1."
    assert '<a href="/incidents/INC-1" class="linked-incident-link">' in attached.text
    assert history(attached.text)[0] == f"Linked to INC-1 by {rita.user.name}"
    timeline = rita.get("/incidents/INC-1").text
    assert f"ALR-{alert_id} linked by {rita.user.name}: Database down" in unescape(timeline)


def test_a_viewer_sees_everything_but_no_buttons(web_as, viewer, setup):
    alert_id = setup.send("payments", "db", title="Database down")
    vic = web_as(viewer)
    for url in (
        "/alerts",
        f"/alerts/{alert_id}",
        f"/services/{setup.services['payments']}/alerting",
    ):
        page = vic.get(url)
        assert page.status_code == 200, url
        assert Page(page.text).post_actions() == ["/logout"], url
    page = vic.get(f"/alerts/{alert_id}").text
    assert "Database down" in page
    assert "Acknowledge" not in page and "Declare incident" not in page
    refused = vic.post(f"/alerts/{alert_id}/acknowledge")
    assert flash_text(refused.text).startswith("error|You need the responder role")
    assert 'data-status="triggered"' in refused.text


def test_a_restricted_incident_is_not_revealed_on_the_alert_page(web_as, make_user, setup, db):
    insider = make_user(Role.RESPONDER, name="Ines Insider")
    alert_id = setup.send("payments", "leak", title="Credentials in logs")
    with db.begin() as session:
        actor = session.get(User, insider.id)
        data = IncidentCreate(summary="Secret breach", severity="SEV1", restricted=True)
        incidents.declare_incident(session, actor, data)
        alerts.attach_to_incident(session, actor, alert_id, "INC-1")
    outsider = web_as(make_user(Role.RESPONDER, name="Otto Outsider"))
    page = outsider.get(f"/alerts/{alert_id}").text
    assert "INC-1" not in page and "linked to an incident you cannot see" in page
    assert "Secret breach" not in page
    assert "Secret breach" in web_as(insider).get(f"/alerts/{alert_id}").text


def test_what_senders_write_is_shown_as_text(rita, setup):
    alert_id = setup.send(
        "payments",
        "xss",
        title="<script>alert(1)</script>",
        labels={"<b>": "<i>x</i>"},
        details={"html": "<img src=x onerror=alert(1)>"},
    )
    page = rita.get(f"/alerts/{alert_id}").text
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;x&lt;/i&gt;" in page


# ---------------------------------------------------------------- a service's alerting set-up


def test_the_services_list_links_to_alerting(ada, setup):
    page = ada.get("/services").text
    assert f'href="/services/{setup.services["payments"]}/alerting">Alerting</a>' in page
    nav = ada.get("/alerts").text
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in nav


def test_a_new_alertmanager_key_is_shown_once_with_the_snippet_to_paste(ada, setup):
    service_id = setup.services["payments"]
    created = ada.post(
        f"/services/{service_id}/alerting/integrations",
        {"kind": "alertmanager", "name": "Prometheus prod", "rate_limit_per_minute": "6000"},
    )
    assert created.status_code == 200
    assert flash_text(created.text) == (
        "ok|Prometheus prod is added. Copy its key now: it is shown only this once."
    )
    url = re.search(r'<code class="secret paste-url">([^<]+)</code>', created.text)[1]
    key = url.rsplit("/", 1)[1]
    assert url == f"http://testserver/integrations/alertmanager/{key}"
    with setup.db.begin() as session:
        found = alerts.integration_by_key(session, key)
        assert found is not None and found.name == "Prometheus prod"
    snippet = unescape(
        re.search(r'<pre class="secret" tabindex="0">(.*?)</pre>', created.text, re.S)[1]
    )
    assert snippet.startswith(
        "receivers:\n"
        "  - name: tocsin-payments\n"
        "    webhook_configs:\n"
        f"      - url: {url}\n"
        "        send_resolved: true\n"
    )
    # A reload shows the integration, never the key.
    again = ada.get(f"/services/{service_id}/alerting").text
    assert key not in again and 'id="new-key"' not in again
    assert "Prometheus prod" in again and f'starts <span class="mono">{key[:6]}…' in again


def test_a_pagerduty_key_comes_with_the_enqueue_url_and_an_alertmanager_example(ada, setup):
    service_id = setup.services["search"]
    created = ada.post(
        f"/services/{service_id}/alerting/integrations",
        {"kind": "pagerduty", "name": "Grafana", "rate_limit_per_minute": ""},
    ).text
    url = re.search(r'<code class="secret paste-url">([^<]+)</code>', created)[1]
    key = re.search(r'<code class="secret paste-key">([^<]+)</code>', created)[1]
    assert url == "http://testserver/v2/enqueue" and len(key) == 32
    snippet = unescape(re.search(r'<pre class="secret" tabindex="0">(.*?)</pre>', created, re.S)[1])
    assert "    pagerduty_configs:\n" in snippet
    assert f"      - url: http://testserver/v2/enqueue\n        routing_key: {key}\n" in snippet


@pytest.mark.parametrize("kind", ["webhook", "heartbeat"])
def test_webhooks_and_heartbeats_get_a_curl_example(ada, setup, kind):
    service_id = setup.services["payments"]
    created = ada.post(
        f"/services/{service_id}/alerting/integrations",
        {
            "kind": kind,
            "name": "Nightly backup",
            "heartbeat_interval": "60",
            "heartbeat_grace": "5",
        },
    ).text
    url = re.search(r'<code class="secret paste-url">([^<]+)</code>', created)[1]
    snippet = unescape(re.search(r'<pre class="secret" tabindex="0">(.*?)</pre>', created, re.S)[1])
    assert f"curl -fsS --retry 3 -X POST '{url}'" in snippet or f"curl -X POST '{url}'" in snippet
    if kind == "heartbeat":
        assert url.startswith("http://testserver/heartbeats/")
        assert "Every</dt><dd>60 min + 5 min grace" in created
        assert 'Last ping</dt><dd><span class="muted">never</span>' in created
    else:
        assert url.startswith("http://testserver/integrations/webhook/")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "heartbeat", "name": "Backup"}, "A heartbeat needs an interval"),
        (
            {"kind": "heartbeat", "name": "Backup", "heartbeat_interval": "abc"},
            "Heartbeat interval",
        ),
        ({"kind": "heartbeat", "name": "Backup", "heartbeat_interval": "0"}, "from 1 to 10080"),
        ({"kind": "webhook", "name": "  "}, "Name is required."),
        ({"kind": "carrier-pigeon", "name": "x"}, "Kind: choose"),
        ({"kind": "webhook", "name": "x", "rate_limit_per_minute": "lots"}, "Rate limit"),
        ({"kind": "webhook", "name": "x", "rate_limit_per_minute": "0"}, "Rate limit"),
    ],
)
def test_bad_integration_forms_say_what_is_wrong(ada, setup, form, message):
    service_id = setup.services["payments"]
    page = ada.post(f"/services/{service_id}/alerting/integrations", form)
    assert page.status_code == 200
    assert flash_text(page.text).startswith("error|")
    assert message in flash_text(page.text)
    assert 'id="new-key"' not in page.text


def test_rotating_shows_the_new_key_once_and_the_old_one_stops_working(ada, setup):
    service_id = setup.services["payments"]
    integration_id = setup.integrations["payments"]
    page = ada.get(f"/services/{service_id}/alerting").text
    rotate = f"/services/{service_id}/alerting/integrations/{integration_id}/rotate"
    assert rotate in Page(page).post_actions()
    assert 'data-confirm="Rotate the key of payments probe?' in page
    rotated = ada.post(rotate).text
    assert flash_text(rotated).startswith("ok|The key of payments probe is rotated")
    key = re.search(r'<code class="secret paste-key">([^<]+)</code>', rotated)[1]
    with setup.db.begin() as session:
        assert alerts.integration_by_key(session, key).id == integration_id
    assert key not in ada.get(f"/services/{service_id}/alerting").text

    # An integration of another service is not this page's to rotate.
    other = setup.integrations["search"]
    refused = ada.post(f"/services/{service_id}/alerting/integrations/{other}/rotate")
    assert flash_text(refused.text) == f"error|No integration {other} on this service."


def test_removing_an_integration(ada, setup):
    service_id = setup.services["payments"]
    integration_id = setup.integrations["payments"]
    removed = ada.post(f"/services/{service_id}/alerting/integrations/{integration_id}/delete")
    assert flash_text(removed.text) == "ok|payments probe is removed; its key no longer works."
    assert "No integrations yet" in removed.text
    assert 'id="add-integration" open' in removed.text


def test_a_test_alert_goes_through_the_rules_like_a_real_one(ada, setup, db):
    """The team lead checks the set-up end to end: the test alert is routed and can page."""
    service_id = setup.services["payments"]
    integration_id = setup.integrations["payments"]
    test = f"/services/{service_id}/alerting/integrations/{integration_id}/test"
    page = ada.get(f"/services/{service_id}/alerting").text
    assert test in Page(page).post_actions()
    assert 'data-confirm="Send a test alert through payments probe?' in page

    sent = ada.post(test, {"severity": "critical"})
    flash = flash_text(sent.text)
    # Payments has no escalation policy: the confirmation says nobody will be paged.
    assert flash.startswith(
        "warn|Test alert ALR-1 sent. Nobody will be paged: Payments has no escalation policy."
    )
    assert "Test alert through payments probe, sent by Ada Admin" in sent.text
    assert "triggered" in sent.text and "critical" in sent.text
    run_engine(db)
    routed = history(ada.get("/alerts/1").text)
    assert any("Nobody was paged: Payments has no escalation policy" in e for e in routed)
    assert not any("Paging the on-call" in e or "started paging" in e for e in routed)

    refused = ada.post(test, {"severity": "loud"})
    assert flash_text(refused.text).startswith("error|")
    assert keys(ada, "?status=triggered") == ["ALR-1"]


def test_a_test_alert_through_the_api(api_as, admin, setup):
    api = api_as(admin)
    integration_id = setup.integrations["search"]
    sent = api.post(f"/api/v1/integrations/{integration_id}/test-alert", json={})
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    assert alert["severity"] == "warning" and alert["status"] == "triggered"
    assert alert["title"] == "Test alert through search probe, sent by Ada Admin"
    bad = api.post(f"/api/v1/integrations/{integration_id}/test-alert", json={"severity": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "severity"
    assert api.post("/api/v1/integrations/999/test-alert", json={}).status_code == 404


def test_an_integration_is_renamed_and_its_limits_changed_in_place(ada, setup, db, admin):
    service_id = setup.services["payments"]
    integration_id = setup.integrations["payments"]
    edit = f"/services/{service_id}/alerting/integrations/{integration_id}"
    assert edit in Page(ada.get(f"/services/{service_id}/alerting").text).post_actions()

    saved = ada.post(edit, {"name": "Prometheus EU", "rate_limit_per_minute": "120"})
    assert flash_text(saved.text) == "ok|Prometheus EU is saved."
    assert "120 events a minute" in saved.text and "Prometheus EU" in saved.text

    refused = ada.post(edit, {"name": "Prometheus EU", "rate_limit_per_minute": "0"})
    assert flash_text(refused.text).startswith("error|")
    assert "120 events a minute" in refused.text  # nothing half-written

    with db.begin() as session:
        actor = session.get(User, admin.id)
        data = IntegrationCreate(
            service_id=service_id,
            name="nightly backup",
            kind="heartbeat",
            heartbeat_interval_seconds=3600,
        )
        beat = alerts.create_integration(session, actor, data)[0].id
    ada.post(
        f"/services/{service_id}/alerting/integrations/{beat}",
        {"name": "nightly backup", "heartbeat_interval": "90", "heartbeat_grace": "15"},
    )
    with db.begin() as session:
        changed = session.get(Integration, beat)
        assert (changed.heartbeat_interval_seconds, changed.heartbeat_grace_seconds) == (
            90 * 60,
            15 * 60,
        )


def test_rules_save_show_and_clear(ada, setup):
    service_id = setup.services["payments"]
    page = ada.get(f"/services/{service_id}/alerting").text
    assert "No rules yet, so the default applies" in page
    assert page.count('class="rule-row"') == 3

    saved = ada.post(
        f"/services/{service_id}/alerting/rules",
        {
            "severity": ["critical", "info", "", ""],
            "action": ["incident", "log", "page", ""],
            "incident_severity": ["SEV1", "SEV2", "SEV3", ""],
        },
    )
    assert flash_text(saved.text) == "ok|Rules saved (3)."
    with setup.db.begin() as session:
        rules = [
            (r.severity, r.action, r.incident_severity)
            for r in alerts.rules_of(session, service_id)
        ]
    assert rules == [("critical", "incident", "SEV1"), ("info", "log", None), (None, "page", None)]
    outcomes = re.findall(
        r'<li class="outcome-(\w+)">.*?data-severity="(\w+)".*?<span>([^<]+)</span>', saved.text
    )
    assert outcomes == [
        ("incident", "critical", "Declare a SEV1 incident and page"),
        ("page", "error", "Page the on-call"),
        ("page", "warning", "Page the on-call"),
        ("log", "info", "Only log it, page nobody"),
    ]
    assert saved.text.count('class="rule-row"') == 5  # three saved, two empty
    assert '<option value="incident" selected>' in saved.text

    cleared = ada.post(
        f"/services/{service_id}/alerting/rules",
        {"severity": [""], "action": [""], "incident_severity": [""]},
    )
    assert flash_text(cleared.text) == (
        "ok|Rules cleared: the default applies (page for everything except info)."
    )
    refused = ada.post(
        f"/services/{service_id}/alerting/rules", {"severity": ["x"], "action": ["page"]}
    )
    assert flash_text(refused.text).startswith("error|Rules")


def test_maintenance_is_planned_in_the_users_time_zone_and_ended(ada, setup, db, admin, clock):
    with db.begin() as session:
        actor = session.get(User, admin.id)
        auth.update_user(session, actor, admin.id, UserUpdate(time_zone="Europe/Berlin"))
    service_id = setup.services["payments"]
    page = ada.get(f"/services/{service_id}/alerting").text
    # Defaults: now and an hour from now, on the person's clock (09:00 UTC is 10:00 in Berlin).
    assert 'name="starts_at" type="datetime-local" value="2026-03-02T10:00"' in page
    assert 'name="ends_at" type="datetime-local" value="2026-03-02T11:00"' in page
    planned = ada.post(
        f"/services/{service_id}/alerting/maintenance",
        {"starts_at": "2026-03-02T10:00", "ends_at": "2026-03-02T12:30", "reason": "DB upgrade"},
    )
    assert flash_text(planned.text) == (
        "ok|Maintenance planned: alerts are kept but page nobody during it."
    )
    with db.begin() as session:
        [window] = alerts.list_maintenance(session, service_id)
        assert (window.starts_at, window.ends_at) == (
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            datetime(2026, 3, 2, 11, 30, tzinfo=UTC),
        )
        window_id = window.id
    assert "on now" in planned.text and "Mar 02, 10:00 \u2013 Mar 02, 12:30" in planned.text
    assert "DB upgrade" in planned.text

    backwards = ada.post(
        f"/services/{service_id}/alerting/maintenance",
        {"starts_at": "2026-03-02T12:00", "ends_at": "2026-03-02T11:00", "reason": "Failover"},
    )
    assert backwards.status_code == 422
    assert flash_text(backwards.text) == "error|The maintenance must end after it starts."
    # What was typed stays in the form, to correct rather than retype.
    assert 'name="starts_at" type="datetime-local" value="2026-03-02T12:00"' in backwards.text
    assert 'value="Failover"' in backwards.text
    over = ada.post(
        f"/services/{service_id}/alerting/maintenance",
        {"starts_at": "2026-03-01T10:00", "ends_at": "2026-03-01T11:00"},
    )
    assert flash_text(over.text) == (
        "error|This maintenance would already be over: it must end in the future."
    )
    blank = ada.post(f"/services/{service_id}/alerting/maintenance", {"starts_at": ""})
    assert flash_text(blank.text) == "error|Give a start and an end for the maintenance."

    clock.advance(minutes=10)
    ended = ada.post(f"/services/{service_id}/alerting/maintenance/{window_id}/end")
    assert flash_text(ended.text) == "ok|Maintenance ended."
    assert "None on now or planned." in ended.text
    gone = ada.post(f"/services/{service_id}/alerting/maintenance/{window_id}/end")
    assert flash_text(gone.text) == "error|This maintenance is already over or was cancelled."


def test_cancelling_planned_maintenance(ada, setup, clock):
    service_id = setup.services["payments"]
    ada.post(
        f"/services/{service_id}/alerting/maintenance",
        {"starts_at": "2026-03-03T09:00", "ends_at": "2026-03-03T10:00"},
    )
    page = ada.get(f"/services/{service_id}/alerting").text
    assert ">planned</span>" in page and "Cancel it" in page
    window_id = re.search(r"/alerting/maintenance/(\d+)/end", page)[1]
    cancelled = ada.post(f"/services/{service_id}/alerting/maintenance/{window_id}/end")
    assert flash_text(cancelled.text) == "ok|Planned maintenance cancelled."


def test_only_the_owning_team_and_admins_configure_a_service(web_as, make_user, setup, db, admin):
    member = make_user(Role.RESPONDER, name="Mia Member")
    with db.begin() as session:
        actor = session.get(User, admin.id)
        [team] = auth.list_teams(session)
        auth.add_team_member(session, actor, team.id, member.id)
    payments = setup.services["payments"]
    outsider = web_as(make_user(Role.RESPONDER, name="Otto Outsider"))

    page = outsider.get(f"/services/{payments}/alerting").text
    assert "only admins and members of Payments team can change" in page
    assert Page(page).post_actions() == ["/logout"]
    for url, form in (
        (f"/services/{payments}/alerting/integrations", {"kind": "webhook", "name": "Mine"}),
        (f"/services/{payments}/alerting/rules", {"severity": [""], "action": ["log"]}),
        (
            f"/services/{payments}/alerting/maintenance",
            {"starts_at": "2026-03-02T10:00", "ends_at": "2026-03-02T11:00"},
        ),
        (f"/services/{payments}/alerting/integrations/{setup.integrations['payments']}/rotate", {}),
        (f"/services/{payments}/alerting/integrations/{setup.integrations['payments']}/test", {}),
        (
            f"/services/{payments}/alerting/integrations/{setup.integrations['payments']}",
            {"name": "Mine", "rate_limit_per_minute": "5"},
        ),
    ):
        refused = outsider.post(url, form)
        # Back on the page saying why; the maintenance form re-renders with what was typed.
        expected = 403 if url.endswith("/maintenance") else 200
        assert refused.status_code == expected, (url, refused.text)
        assert flash_text(refused.text).startswith(
            "error|Only admins and members of the owning team (Payments team) can"
        ), url
        assert 'id="new-key"' not in refused.text

    mia = web_as(member)
    assert (
        f"/services/{payments}/alerting/rules"
        in Page(mia.get(f"/services/{payments}/alerting").text).post_actions()
    )
    added = mia.post(
        f"/services/{payments}/alerting/integrations", {"kind": "webhook", "name": "Mine"}
    )
    assert flash_text(added.text).startswith("ok|Mine is added.")
    # A service without a team: admins only, and the page says so.
    search = mia.get(f"/services/{setup.services['search']}/alerting").text
    assert "only admins can change" in search


def test_unknown_services_and_windows_are_not_found(ada, setup):
    assert ada.get("/services/999/alerting").status_code == 404
    gone = ada.post(f"/services/{setup.services['search']}/alerting/maintenance/5/end")
    assert flash_text(gone.text) == "error|This maintenance is already over or was cancelled."
