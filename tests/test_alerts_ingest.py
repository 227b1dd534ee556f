"""Alerts arriving through PagerDuty Events v2, Alertmanager webhooks, generic webhooks and
heartbeats: stored before the answer, deduplicated, and never half-written."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from tests.alerting import make_integration, run_engine
from tests.conftest import assert_error
from tests.live_server import live_server  # noqa: F401  (fixture)
from tocsin.alerts.models import Alert
from tocsin.timeline.models import TimelineEvent

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def count_alerts(db) -> int:
    with db.begin() as session:
        return session.scalar(select(func.count()).select_from(Alert))


def event(key: str, action: str = "trigger", dedup_key: str | None = "disk-db-1", **payload):
    body = {"routing_key": key, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Disk 95% full on db-1",
            "source": "db-1",
            "severity": "critical",
            **payload,
        }
    return body


def test_pagerduty_trigger_acknowledge_resolve(client, ada, db):
    key = make_integration(ada, "pagerduty")["key"]
    accepted = client.post("/v2/enqueue", json=event(key))
    assert accepted.status_code == 202
    assert accepted.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-db-1",
    }
    alerts = ada.get("/api/v1/alerts").json()["items"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["status"], alert["severity"], alert["title"]) == (
        "triggered",
        "critical",
        "Disk 95% full on db-1",
    )

    # The same event again counts up; it never makes a second alert.
    client.post("/v2/enqueue", json=event(key))
    again = ada.get(f"/api/v1/alerts/{alert['id']}").json()
    assert again["count"] == 2 and count_alerts(db) == 1

    assert client.post("/v2/enqueue", json=event(key, "acknowledge")).status_code == 202
    assert ada.get(f"/api/v1/alerts/{alert['id']}").json()["status"] == "acknowledged"
    assert client.post("/v2/enqueue", json=event(key, "resolve")).status_code == 202
    resolved = ada.get(f"/api/v1/alerts/{alert['id']}").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    kinds = [e["kind"] for e in ada.get(f"/api/v1/alerts/{alert['id']}/timeline").json()]
    assert kinds == ["resolved", "acknowledged", "triggered"]

    # After resolve, the same dedup key opens a new alert.
    client.post("/v2/enqueue", json=event(key))
    assert count_alerts(db) == 2


def test_pagerduty_generates_the_dedup_key_when_absent(client, ada):
    key = make_integration(ada, "pagerduty")["key"]
    answer = client.post("/v2/enqueue", json=event(key, dedup_key=None)).json()
    generated = answer["dedup_key"]
    assert len(generated) == 32
    client.post("/v2/enqueue", json=event(key, "resolve", dedup_key=generated))
    assert ada.get("/api/v1/alerts").json()["items"][0]["status"] == "resolved"


def test_acknowledge_or_resolve_without_an_open_alert_changes_nothing(client, ada, db):
    key = make_integration(ada, "pagerduty")["key"]
    assert (
        client.post("/v2/enqueue", json=event(key, "resolve", dedup_key="never-seen")).status_code
        == 202
    )
    assert count_alerts(db) == 0


def test_pagerduty_invalid_events_are_refused_in_its_own_shape(client, ada, db):
    key = make_integration(ada, "pagerduty")["key"]
    for body in (event(key, severity="apocalyptic"), {"routing_key": key}, [1, 2], event("0" * 32)):
        refused = client.post("/v2/enqueue", json=body)
        assert refused.status_code == 400, body
        answer = refused.json()
        assert answer["status"] == "invalid event" and answer["message"] and answer["errors"]
    garbled = client.post(
        "/v2/enqueue", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbled.status_code == 400 and garbled.json()["status"] == "invalid event"
    assert count_alerts(db) == 0


def _pagerduty_shaped(response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    answer = response.json()
    assert set(answer) == {"status", "message", "errors"}, answer
    assert answer["status"] == "invalid event" and answer["message"] and answer["errors"]
    return answer["errors"]


def test_every_refusal_on_enqueue_is_pagerduty_shaped(client, ada, db):
    """A PagerDuty client reads status, message and errors, whatever refused the event."""
    key = make_integration(ada, "pagerduty")["key"]
    too_big = client.post("/v2/enqueue", content=b" " * 1_000_001)
    assert "1000000 bytes" in _pagerduty_shaped(too_big, 413)[0]
    streamed = client.post("/v2/enqueue", content=iter([b" " * 600_000, b" " * 600_000]))
    _pagerduty_shaped(streamed, 413)
    wrong_method = client.get("/v2/enqueue")
    _pagerduty_shaped(wrong_method, 405)
    assert wrong_method.headers["allow"] == "POST"
    [unterminated] = _pagerduty_shaped(
        client.post("/v2/enqueue", content=b'{"routing_key": "ab'), 400
    )
    assert "at at" not in unterminated
    assert unterminated.startswith("The body is not valid JSON: Unterminated string starting at")
    for wrong in (42, ["k"], {"k": 1}, True):
        errors = _pagerduty_shaped(
            client.post("/v2/enqueue", json=event(key) | {"routing_key": wrong}), 400
        )
        assert errors == ["'routing_key' must be a string."], wrong
    for blank in (None, "", "  "):
        body = event(key) | {"routing_key": blank}
        errors = _pagerduty_shaped(client.post("/v2/enqueue", json=body), 400)
        assert errors == ["'routing_key' is missing or blank."], blank
    assert count_alerts(db) == 0


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(client, ada, db):
    key = make_integration(ada, "pagerduty", rate_limit_per_minute=3)["key"]
    answers = [
        client.post("/v2/enqueue", json=event(key, dedup_key=f"k{n}")).status_code for n in range(5)
    ]
    assert answers == [202, 202, 202, 429, 429]
    limited = client.post("/v2/enqueue", json=event(key, dedup_key="k9"))
    assert int(limited.headers["Retry-After"]) >= 1
    assert count_alerts(db) == 3  # what was refused was not stored


def test_alertmanager_webhook_firing_then_resolved(client, ada):
    integration = make_integration(ada, "alertmanager")
    assert integration["url"].endswith(f"/integrations/alertmanager/{integration['key']}")
    url = f"/integrations/alertmanager/{integration['key']}"
    firing = json.loads((SAMPLES / "am_webhook_firing.json").read_text())
    answer = client.post(url, json=firing)
    assert answer.status_code == 202 and answer.json()["alerts"][0]["created"] is True
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert alert["dedup_key"] == "dc667fabad98b2d0"
    assert alert["labels"]["alertname"] == "HighErrorRate"
    assert alert["links"][0]["href"] == "http://prom.local/graph"

    resolved = json.loads(json.dumps(firing).replace('"firing"', '"resolved"'))
    client.post(url, json=resolved)
    assert ada.get(f"/api/v1/alerts/{alert['id']}").json()["status"] == "resolved"


def test_integration_keys_are_secret_and_rotatable(client, ada):
    integration = make_integration(ada, "alertmanager")
    body = json.loads((SAMPLES / "am_webhook_firing.json").read_text())
    assert_error(client.post("/integrations/alertmanager/" + "0" * 32, json=body), 404)
    # A key only opens its own kind of endpoint.
    assert_error(
        client.post(
            f"/integrations/webhook/{integration['key']}", json={"title": "t", "dedup_key": "d"}
        ),
        404,
    )
    assert "key" not in ada.get(f"/api/v1/integrations/{integration['id']}").json()
    rotated = ada.post(f"/api/v1/integrations/{integration['id']}/rotate").json()
    assert rotated["key"] != integration["key"]
    assert_error(client.post(f"/integrations/alertmanager/{integration['key']}", json=body), 404)
    assert client.post(f"/integrations/alertmanager/{rotated['key']}", json=body).status_code == 202


def test_generic_webhook_names_what_is_missing_and_writes_nothing(client, ada, db):
    key = make_integration(ada, "webhook")["key"]
    refused = client.post(
        f"/integrations/webhook/{key}", json={"severity": "critical", "details": {}}
    )
    error = assert_error(refused, 400, code="invalid_event")
    assert "'dedup_key' is missing" in error["message"] and "'title' is missing" in error["message"]
    assert count_alerts(db) == 0
    ok = client.post(
        f"/integrations/webhook/{key}", json={"title": "Queue stuck", "dedup_key": "q:eu"}
    )
    assert ok.status_code == 202 and count_alerts(db) == 1


def test_the_same_event_sent_concurrently_makes_one_alert(live_server, ada, db):  # noqa: F811
    key = make_integration(ada, "pagerduty")["key"]

    def send(_: int) -> int:
        with httpx.Client(base_url=live_server.url) as sender:
            return sender.post("/v2/enqueue", json=event(key, dedup_key="stampede")).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(40)))
    assert statuses == [202] * 40
    with db.begin() as session:
        counts = session.execute(select(Alert.count)).scalars().all()
        triggered = session.scalar(select(func.count()).where(TimelineEvent.kind == "triggered"))
    assert counts == [40]  # one alert, and every accepted event counted
    assert triggered == 1


def test_heartbeats_raise_an_alert_when_silent_and_resolve_on_the_next_ping(client, ada, db, clock):
    hb = make_integration(
        ada, "heartbeat", heartbeat_interval_seconds=60, heartbeat_grace_seconds=30
    )
    assert client.get(f"/heartbeats/{hb['key']}").json()["status"] == "ok"
    clock.advance(seconds=89)
    run_engine(db)
    assert count_alerts(db) == 0
    clock.advance(seconds=2)
    run_engine(db)
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert alert["title"] == "heartbeat of payments missed its heartbeat"
    assert alert["severity"] == "critical"
    clock.advance(minutes=10)
    run_engine(db)
    assert count_alerts(db) == 1  # still one alert while silent
    assert client.post(f"/heartbeats/{hb['key']}").status_code == 200
    assert ada.get(f"/api/v1/alerts/{alert['id']}").json()["status"] == "resolved"
    assert_error(client.get("/heartbeats/" + "f" * 32), 404)
    # Some uptime checkers ping with HEAD: that is a ping too.
    clock.advance(seconds=91)
    assert client.head(f"/heartbeats/{hb['key']}").status_code == 200
    run_engine(db)
    assert count_alerts(db) == 1


def test_a_repeat_without_details_keeps_the_alerts_details(client, ada):
    key = make_integration(ada, "pagerduty")["key"]
    client.post("/v2/enqueue", json=event(key, custom_details={"p99_ms": 812}))
    client.post("/v2/enqueue", json=event(key))  # the same alert again, no details this time
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert alert["count"] == 2
    details = ada.get(f"/api/v1/alerts/{alert['id']}").json()["details"]
    assert details == {"p99_ms": 812}

    client.post("/v2/enqueue", json=event(key, custom_details={"p99_ms": 1500}))
    details = ada.get(f"/api/v1/alerts/{alert['id']}").json()["details"]
    assert details == {"p99_ms": 1500}  # newer details replace older ones


# Found by fuzzing: each of these gave a 500 (and on SQLite a lone surrogate was stored,
# after which the alert list itself answered 500). Raw bytes: the JSON spellings matter.
UNSTORABLE = {
    "lone surrogate": b'"\\ud800"',
    "lone low surrogate": b'"x\\udc00"',
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "a number too large": b"1e400",
}


@pytest.mark.parametrize("how", list(UNSTORABLE))
@pytest.mark.parametrize("sender", ["pagerduty", "webhook", "alertmanager"])
def test_values_no_database_can_hold_are_refused_and_nothing_is_stored(
    client, ada, db, sender, how
):
    key = make_integration(ada, sender)["key"]
    if sender == "pagerduty":
        path, document = "/v2/enqueue", event(key, custom_details={"v": "@V@"})
    elif sender == "webhook":
        path = f"/integrations/webhook/{key}"
        document = {"title": "Disk full", "dedup_key": "k", "details": {"v": "@V@"}}
    else:
        path = f"/integrations/alertmanager/{key}"
        document = json.loads((SAMPLES / "am_webhook_firing.json").read_text())
        document["alerts"][0]["labels"]["v"] = "@V@"
    # The value spelled as raw JSON, which no Python value would serialise to.
    body = json.dumps(document).replace('"@V@"', UNSTORABLE[how].decode())
    refused = client.post(path, content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    said = answer["errors"][0] if sender == "pagerduty" else answer["error"]["message"]
    # The JSON is well formed: the answer names the value, not "not valid JSON".
    assert said.startswith("The body cannot be taken: "), said
    assert count_alerts(db) == 0
    assert ada.get("/api/v1/alerts").status_code == 200


def test_a_surrogate_pair_is_one_character_and_is_kept(client, ada):
    key = make_integration(ada, "webhook")["key"]
    body = '{"title":"Pager \\ud83d\\udcdf down","dedup_key":"k"}'
    accepted = client.post(
        f"/integrations/webhook/{key}", content=body, headers={"content-type": "application/json"}
    )
    assert accepted.status_code in (200, 202), accepted.text
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert alert["title"] == "Pager \N{PAGER} down"


@pytest.mark.parametrize("field", ["event_action", "severity"])
@pytest.mark.parametrize("wrong", [[], {}, 3])
def test_a_field_of_the_wrong_type_is_a_400_naming_it(client, ada, db, field, wrong):
    key = make_integration(ada, "pagerduty")["key"]
    body = event(key)
    if field == "event_action":
        body["event_action"] = wrong
    else:
        body["payload"]["severity"] = wrong
    refused = client.post("/v2/enqueue", json=body)
    assert refused.status_code == 400
    assert any(field in error for error in refused.json()["errors"])
    hook = make_integration(ada, "webhook")["key"]
    refused = client.post(f"/integrations/webhook/{hook}", json={"title": "t", "severity": wrong})
    assert refused.status_code == 400
    assert count_alerts(db) == 0


@pytest.mark.parametrize(
    ("sender", "body", "field"),
    [
        ("webhook", {"title": "Disk full"}, "dedup_key"),
        ("webhook", {"dedup_key": "k", "severity": "fatal", "title": "t"}, "severity"),
        ("webhook", {"dedup_key": "k", "title": "t", "description": "x"}, "description"),
        ("alertmanager", {"alerts": "x"}, "alerts"),
        ("alertmanager", {"alerts": [{"status": "firing"}]}, "alerts[0].fingerprint"),
        (
            "alertmanager",
            {"alerts": [{"status": "firing", "fingerprint": "a"}, {"fingerprint": "b"}]},
            "alerts[1].status",
        ),
    ],
)
def test_a_refused_webhook_names_the_field_at_fault(client, ada, db, sender, body, field):
    key = make_integration(ada, sender)["key"]
    refused = client.post(f"/integrations/{sender}/{key}", json=body)
    assert_error(refused, 400, code="invalid_event", field=field)
    assert count_alerts(db) == 0


@pytest.mark.parametrize("depth", [33, 500])
def test_details_nested_too_deep_are_refused_and_nothing_is_stored(client, ada, db, depth):
    """Found in review: 500 levels of details made a 500 (recursion while cleaning NUL)."""
    key = make_integration(ada, "webhook")["key"]
    details: dict = {"leaf": 1}
    for _ in range(depth - 2):  # the body itself is one level, details another
        details = {"x": details}
    refused = client.post(
        f"/integrations/webhook/{key}", json={"title": "t", "dedup_key": "k", "details": details}
    )
    error = assert_error(refused, 400, code="invalid_json")
    assert "nested deeper than 32 levels" in error["message"]
    assert count_alerts(db) == 0


def test_details_as_deep_as_allowed_are_kept_and_shown(client, ada):
    key = make_integration(ada, "webhook")["key"]
    details: dict = {"leaf": 1}
    for _ in range(30):  # 32 levels with the body and details
        details = {"x": details}
    accepted = client.post(
        f"/integrations/webhook/{key}", json={"title": "t", "dedup_key": "k", "details": details}
    )
    assert accepted.status_code == 202, accepted.text
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert ada.get(f"/api/v1/alerts/{alert['id']}").json()["details"] == details
