"""Scripting a setup without the browser: the first API token from the command line, the
X-CSRF-Token header for calls made with a login cookie (and a JSON refusal without it),
and an admin setting up anyone's contact methods and notification rules (moving a team in)."""

from __future__ import annotations

import json
import re
from contextlib import closing

from fastapi.testclient import TestClient

from tests.conftest import assert_error, browser_login
from tests.test_cli import tocsin, use_database  # noqa: F401  (fixtures)
from tocsin.config import get_settings


def test_token_create_prints_a_token_that_works_once_shown(tocsin, app, admin):  # noqa: F811
    made = tocsin("token", "create", "--user", admin.email, "--name", "setup script")
    printed = made.stdout.strip().splitlines()
    token = printed[-1]
    assert token.startswith("tsn_") and "shown only this once" in made.stdout
    assert "setup script" in printed[0] and admin.email in printed[0]
    with closing(TestClient(app, headers={"Authorization": f"Bearer {token}"})) as script:
        assert script.get("/api/v1/me").json()["email"] == admin.email
        created = script.post("/api/v1/teams", json={"name": "Payments"})
        assert created.status_code == 201  # a token needs no CSRF header
    listed = tocsin("token", "list", "--user", admin.email).stdout
    assert "setup script" in listed and token not in listed  # the secret is never shown again


def test_token_create_refuses_clearly(tocsin, make_user):  # noqa: F811
    missing = tocsin("token", "create", "--user", "nobody@example.com", code=1)
    assert "No active user nobody@example.com." in missing.stderr
    someone = make_user()
    blank = tocsin("token", "create", "--user", someone.email, "--name", "  ", code=1)
    assert "name" in blank.stderr


def test_a_cookie_call_without_the_csrf_header_gets_the_json_refusal(app, admin):
    with closing(TestClient(app)) as browser:
        csrf = browser_login(browser, admin)
        refused = browser.post(
            "/api/v1/teams", json={"name": "Payments"}, headers={"Accept": "text/html"}
        )
        error = assert_error(refused, 403, code="csrf", field="X-CSRF-Token")
        assert "X-CSRF-Token" in error["message"]
        done = browser.post(
            "/api/v1/teams", json={"name": "Payments"}, headers={"X-CSRF-Token": csrf}
        )
        assert done.status_code == 201


def test_an_admin_sets_up_someone_elses_contact_methods_and_rules(api_as, admin, responder, viewer):
    ada, rita = api_as(admin), api_as(responder)
    base = f"/api/v1/users/{responder.id}"
    mail = ada.post(
        f"{base}/contact-methods", json={"channel": "email", "address": "rita@x.example"}
    )
    assert mail.status_code == 201
    ntfy = ada.post(
        f"{base}/contact-methods", json={"channel": "apprise", "address": "ntfy://tocsin-rita"}
    )
    assert ntfy.status_code == 201
    # Rita sees what the admin set up as her own.
    mine = rita.get("/api/v1/me/contact-methods").json()
    assert [(m["channel"], m["address"]) for m in mine] == [
        ("email", "rita@x.example"),
        ("apprise", "ntfy://…"),  # secrets inside addresses are shown back redacted
    ]
    assert ada.get(f"{base}/contact-methods").json() == mine

    rules = {
        "rules": [
            {"contact_method_id": mail.json()["id"], "delay_minutes": 0},
            {"contact_method_id": ntfy.json()["id"], "delay_minutes": 2},
        ]
    }
    replaced = ada.put(f"{base}/notification-rules", json=rules)
    assert [r["delay_minutes"] for r in replaced.json()] == [0, 2]
    assert rita.get("/api/v1/me/notification-rules").json() == replaced.json()
    assert ada.get(f"{base}/notification-rules").json() == replaced.json()

    # Another person's contact method is not reachable under this person's path.
    own = ada.post(
        f"/api/v1/users/{admin.id}/contact-methods",
        json={"channel": "email", "address": "ada@x.example"},
    ).json()
    assert_error(ada.delete(f"{base}/contact-methods/{own['id']}"), 404)
    bad_rule = {"rules": [{"contact_method_id": own["id"], "delay_minutes": 0}]}
    assert_error(ada.put(f"{base}/notification-rules", json=bad_rule), 422)
    assert ada.delete(f"{base}/contact-methods/{ntfy.json()['id']}").status_code == 204
    assert len(rita.get("/api/v1/me/contact-methods").json()) == 1

    # Only admins, checked by the service whatever the route.
    vic = api_as(viewer)
    assert_error(vic.get(f"{base}/contact-methods"), 403, code="forbidden")
    assert_error(
        rita.post(
            f"/api/v1/users/{viewer.id}/contact-methods",
            json={"channel": "email", "address": "mole@x.example"},
        ),
        403,
    )
    assert_error(rita.put(f"/api/v1/users/{viewer.id}/notification-rules", json={"rules": []}), 403)
    assert_error(rita.delete(f"{base}/contact-methods/{own['id']}"), 404)
    assert vic.get(f"/api/v1/users/{viewer.id}/contact-methods").json() == []  # their own
    assert_error(ada.get("/api/v1/users/999999/contact-methods"), 404, field="user_id")


def test_a_setup_scripted_from_the_command_line_pages_the_right_person(
    tocsin,  # noqa: F811
    app,
    admin,
    responder,
    monkeypatch,
):
    """Service, integration, policy and its assignment from the shell; then an alert sent to
    the printed URL pages the person the policy names."""
    monkeypatch.setenv("TOCSIN_BASE_URL", "https://tocsin.example.com")
    get_settings.cache_clear()
    made = json.loads(tocsin("service", "create", "payment-gateway", "--json").stdout)
    assert made["name"] == "payment-gateway"
    assert "payment-gateway" in tocsin("service", "list").stdout
    said = tocsin(
        "integration", "create", "--service", str(made["id"]), "--name", "Alertmanager eu"
    ).stdout
    url = re.search(r"url: (\S+)", said).group(1)
    assert re.fullmatch(r"https://tocsin\.example\.com/integrations/alertmanager/\w+", url)
    assert "shown only this once" in said.lower()

    policy = json.loads(
        tocsin(
            "policy", "create", "Payments primary", "--level", f"5=user:{responder.email}", "--json"
        ).stdout
    )
    assert [t["name"] for t in policy["levels"][0]["targets"]] == [responder.name]
    assert "Payments primary" in tocsin("policy", "list").stdout
    assigned = tocsin(
        "policy", "assign", "--service", str(made["id"]), "--policy", str(policy["id"])
    )
    assert "payment-gateway now pages through Payments primary." in assigned.stdout

    with closing(TestClient(app)) as monitoring:
        sent = monitoring.post(
            url.removeprefix("https://tocsin.example.com"), json=alertmanager_firing()
        )
        assert sent.status_code in (200, 202), sent.text
    with closing(TestClient(app)) as client:
        token = tocsin("token", "create", "--user", admin.email).stdout.strip().splitlines()[-1]
        alerts = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
        assert [a["service"]["name"] for a in alerts.json()["items"]] == ["payment-gateway"]


def test_the_setup_commands_refuse_clearly(tocsin, admin, responder):  # noqa: F811
    bad = tocsin("policy", "create", "P", "--level", "soon=user:x@example.com", code=1)
    assert "is no level" in bad.stderr
    who = tocsin("policy", "create", "P", "--level", "5=user:ghost@example.com", code=1)
    assert "No user ghost@example.com." in who.stderr
    missing = tocsin("integration", "create", "--service", "999", "--name", "x", code=1)
    assert "999" in missing.stderr
    refused = tocsin("service", "create", "mine", "--as", responder.email, code=1)
    assert "admin" in refused.stderr.lower()


def alertmanager_firing() -> dict:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "tocsin",
        "groupKey": '{}:{alertname="PaymentsDown"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "PaymentsDown", "severity": "critical"},
                "annotations": {"summary": "Payments are down"},
                "startsAt": "2026-03-02T08:59:00Z",
                "fingerprint": "abc123",
            }
        ],
    }
