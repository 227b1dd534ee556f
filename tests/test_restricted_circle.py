"""A restricted incident stays inside its circle: alerts linked to it, pages and outside
channels never carry its key, id or text to anyone who may not see it."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.alerting import make_integration, run_engine
from tests.conftest import assert_error
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.cli import app as cli_app
from tocsin.config import Settings, get_settings
from tocsin.deps import SESSION_COOKIE
from tocsin.paging.models import Notification

SECRET = "Customer data exposed via S3"
HIDDEN = "linked to an incident you cannot see"


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


@pytest.fixture
def web_as(app, db):
    """A logged-in browser of `user` (session cookie), reading HTML."""
    clients: list[TestClient] = []

    def as_user(user: User) -> TestClient:
        with db.begin() as session:
            cookie, _login = auth.start_login(session, session.get(User, user.id), 1)
        client = TestClient(app, cookies={SESSION_COOKIE: cookie}, headers={"accept": "text/html"})
        clients.append(client)
        return client

    yield as_user
    for client in clients:
        client.close()


def send(client, key: str, dedup_key: str = "s3-bucket") -> None:
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": f"{dedup_key} is public", "source": "probe", "severity": "error"},
    }
    assert client.post("/v2/enqueue", json=body).status_code == 202


def secret_incident(api, **extra) -> dict:
    body = {"summary": SECRET, "severity": "SEV1", "restricted": True, **extra}
    created = api.post("/api/v1/incidents", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def no_trace(text: str, incident: dict) -> None:
    """Neither the key, the id in a link, nor the summary of `incident` is in `text`."""
    assert not re.search(rf"\b{incident['key']}\b", text), text
    assert f"/incidents/{incident['key']}" not in text
    assert SECRET not in text and "S3" not in text.replace("s3-bucket", "")


@pytest.fixture
def linked(client, db, ada, rita):
    """An alert linked (by Rita, a participant) to a restricted incident."""
    send(client, make_integration(ada, "pagerduty")["key"])
    run_engine(db)
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    incident = secret_incident(rita)
    attached = rita.post(f"/api/v1/alerts/{alert['id']}/attach", json={"incident_key": "INC-1"})
    assert attached.json()["incident"]["key"] == incident["key"] == "INC-1"
    return alert, incident


def test_the_alert_api_list_search_and_timeline_never_name_a_hidden_incident(
    linked, api_as, make_user, rita, ada
):
    alert, incident = linked
    outsider = api_as(make_user(Role.RESPONDER, name="Otto Outsider"))
    seen = [
        outsider.get(f"/api/v1/alerts/{alert['id']}").json(),
        outsider.get("/api/v1/alerts").json()["items"][0],
        outsider.get("/api/v1/alerts", params={"q": "s3-bucket"}).json()["items"][0],
    ]
    for shown in seen:
        assert shown["incident"] == {
            "id": None,
            "key": None,
            "summary": HIDDEN,
            "status": "restricted",
        }
    timeline = outsider.get(f"/api/v1/alerts/{alert['id']}/timeline").json()
    assert f"Linked to an incident you cannot see by {rita_name(rita)}" in [
        e["message"] for e in timeline
    ]
    no_trace(json.dumps(seen + timeline), incident)

    # A second link is refused without naming the first.
    outsider_incident = outsider.post(
        "/api/v1/incidents", json={"summary": "Other", "severity": "SEV3"}
    ).json()
    refused = outsider.post(
        f"/api/v1/alerts/{alert['id']}/attach", json={"incident_key": outsider_incident["key"]}
    )
    error = assert_error(refused, 409)
    assert error["message"] == f"{alert['key']} is already {HIDDEN}."
    declared = assert_error(outsider.post(f"/api/v1/alerts/{alert['id']}/incident", json={}), 409)
    assert declared["message"] == f"{alert['key']} is already {HIDDEN}."
    no_trace(json.dumps([error, declared]), incident)

    # Those who may see it still do.
    for insider in (rita, ada):
        assert insider.get(f"/api/v1/alerts/{alert['id']}").json()["incident"]["key"] == "INC-1"
        messages = [
            e["message"] for e in insider.get(f"/api/v1/alerts/{alert['id']}/timeline").json()
        ]
        assert any(m.startswith("Linked to INC-1 by") for m in messages)
    insider_refusal = assert_error(
        rita.post(f"/api/v1/alerts/{alert['id']}/attach", json={"incident_key": "INC-2"}), 409
    )
    assert insider_refusal["message"] == f"{alert['key']} is already linked to INC-1."


def rita_name(api) -> str:
    return api.get("/api/v1/me").json()["name"]


def test_the_alert_pages_never_name_a_hidden_incident(linked, web_as, make_user, responder):
    alert, incident = linked
    outsider = web_as(make_user(Role.RESPONDER, name="Otto Outsider"))
    for url in (f"/alerts/{alert['id']}", "/alerts", "/alerts?q=s3-bucket&status=all"):
        page = outsider.get(url)
        assert page.status_code == 200, url
        assert HIDDEN in page.text, url
        no_trace(page.text, incident)
    assert "Linked to an incident you cannot see by" in outsider.get(f"/alerts/{alert['id']}").text
    insider = web_as(responder).get(f"/alerts/{alert['id']}").text
    assert SECRET in insider and "/incidents/INC-1" in insider and HIDDEN not in insider


def test_the_cli_shows_a_hidden_incident_as_one_you_cannot_see(
    linked, db, make_user, monkeypatch, responder
):
    alert, incident = linked
    outsider = make_user(Role.RESPONDER, name="Otto Outsider")
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db.url)
    monkeypatch.delenv("TOCSIN_USER", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        shown = runner.invoke(cli_app, ["alert", "show", alert["key"], "--as", outsider.email])
        as_json = runner.invoke(
            cli_app, ["alert", "show", alert["key"], "--json", "--as", outsider.email]
        )
        listed = runner.invoke(
            cli_app, ["alert", "list", "--json", "--status", "triggered", "--as", outsider.email]
        )
        insider = runner.invoke(cli_app, ["alert", "show", alert["key"], "--as", responder.email])
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    assert f"incident: {HIDDEN}" in shown.stdout
    assert "Linked to an incident you cannot see by" in shown.stdout
    assert json.loads(as_json.stdout)["incident"]["key"] is None
    assert json.loads(listed.stdout)[0]["incident"]["id"] is None
    no_trace(shown.stdout + as_json.stdout + listed.stdout, incident)
    assert "incident: INC-1" in insider.stdout and "Linked to INC-1" in insider.stdout


def _policy_paging(ada, service_id: int, user_id: int) -> None:
    body = {
        "name": "Payments on-call",
        "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": user_id}]}],
    }
    policy = ada.post("/api/v1/escalation-policies", json=body).json()
    chosen = ada.put(
        f"/api/v1/services/{service_id}/escalation-policy",
        json={"escalation_policy_id": policy["id"]},
    )
    assert chosen.status_code == 200, chosen.text


def test_whoever_is_paged_for_a_restricted_incident_joins_it_and_mail_carries_no_summary(
    db, clock, ada, rita, api_as, make_user, smtp_server
):
    pia = make_user(Role.RESPONDER, name="Pia Primary", email="pia@example.com")
    otto = make_user(Role.RESPONDER, name="Otto Helper", email="otto@example.com")
    service = ada.post("/api/v1/services", json={"name": "storage"}).json()
    _policy_paging(ada, service["id"], pia.id)
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )

    incident = secret_incident(rita, service_id=service["id"])  # pages storage's on-call
    as_pia, as_otto = api_as(pia), api_as(otto)
    assert_error(as_pia.get("/api/v1/incidents/INC-1"), 404)  # not paged yet: not in the circle
    run_engine(db, settings)
    assert as_pia.get("/api/v1/incidents/INC-1").status_code == 200

    paged_by_hand = rita.post(
        "/api/v1/incidents/INC-1/pages",
        json={"targets": [{"kind": "user", "id": otto.id}], "message": "S3 keys leaked, help"},
    )
    assert paged_by_hand.status_code == 201, paged_by_hand.text
    assert_error(as_otto.get("/api/v1/incidents/INC-1"), 404)
    run_engine(db, settings)
    assert as_otto.get("/api/v1/incidents/INC-1").status_code == 200
    names = [p["name"] for p in rita.get("/api/v1/incidents/INC-1/participants").json()]
    assert {"Pia Primary", "Otto Helper"} <= set(names)

    for address in ("pia@example.com", "otto@example.com"):
        [mail] = smtp_server.to(address)
        text = mail["Subject"] + str(mail.get_payload())
        assert "INC-1" in mail["Subject"] and "SEV1" in mail["Subject"], mail["Subject"]
        assert "http://tocsin.test/incidents/INC-1" in text
        assert SECRET not in text and "S3" not in text and "storage" not in text, text
    assert incident["key"] == "INC-1"


def test_handover_requests_reminders_and_stakeholder_updates_carry_no_summary(
    db, clock, ada, rita, api_as, make_user
):
    cleo = make_user(Role.RESPONDER, name="Cleo Comms")
    secret_incident(rita)
    asked = rita.post("/api/v1/incidents/INC-1/handover", json={"to_user_id": cleo.id})
    assert asked.status_code in (200, 201), asked.text
    channel = ada.post(
        "/api/v1/stakeholder-channels",
        json={"name": "Leadership", "url": "json://127.0.0.1:9/hook"},
    )
    assert channel.status_code == 201, channel.text
    update = rita.post(
        "/api/v1/incidents/INC-1/updates",
        json={"channel_ids": [channel.json()["id"]], "body": "S3 bucket closed at 10:00."},
    )
    assert update.status_code == 201, update.text
    clock.advance(hours=2)  # the next update is overdue: the incident manager is reminded
    run_engine(db)
    with db.begin() as session:
        sent = list(session.scalars(select(Notification)))
    purposes = {n.purpose for n in sent}
    assert {"info", "stakeholders", "update_due"} <= purposes, purposes
    for notification in sent:
        words = f"{notification.title}\n{notification.body}\n{json.dumps(notification.data)}"
        assert "INC-1" in words and "SEV1" in words, words
        assert SECRET not in words and "S3" not in words, words
