"""The plain-ASGI fast path for senders answers exactly as the FastAPI routes behind it do."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.alerting import make_integration
from tocsin.alerts.fastpath import IngestFastPath
from tocsin.alerts.models import Alert
from tocsin.app import create_app


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


@pytest.fixture
def routes_only(settings, db):
    """The same app without the fast path: every sender request goes through FastAPI."""
    app = create_app(settings, db)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not IngestFastPath]
    with TestClient(app) as client:
        yield client


def _pd(key: str, dedup: str, **extra) -> bytes:
    payload = {"summary": "Disk full", "source": "db-1", "severity": "critical", **extra}
    return json.dumps(
        {"routing_key": key, "event_action": "trigger", "dedup_key": dedup, "payload": payload}
    ).encode()


def _am(fingerprint: str) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "Disk"}, "fingerprint": fingerprint}
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def _answer(response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, headers, response.content


def test_both_paths_answer_byte_for_byte_the_same(client, routes_only, ada, db):
    pd = make_integration(ada, "pagerduty")["key"]
    am = make_integration(ada, "alertmanager")["key"]
    hook = make_integration(ada, "webhook")["key"]
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        ("/v2/enqueue", _pd(pd, "disk-1")),
        ("/v2/enqueue", _pd(pd, "disk-1")),  # a repeat counts up
        ("/v2/enqueue", _pd(pd, "nul-in-details", custom_details={"x": "a\x00b"})),
        ("/v2/enqueue", _pd(pd, "utf16-\x00-key").decode().encode("utf-16")),  # NUL in a key
        ("/v2/enqueue", b'{"routing_key": '),
        ("/v2/enqueue", deep),
        ("/v2/enqueue", b"[]"),
        ("/v2/enqueue", _pd("0" * 32, "disk-1")),
        ("/v2/enqueue", _pd(pd[:-1] + ("0" if pd[-1] != "0" else "1"), "disk-1")),
        ("/v2/enqueue", _pd(am, "disk-1")),  # a key of another kind
        (f"/integrations/alertmanager/{am}", _am("fp-1")),
        (f"/integrations/alertmanager/{am}", b"{}"),
        (f"/integrations/alertmanager/{am}", deep),
        (f"/integrations/alertmanager/{pd}", _am("fp-1")),
        ("/integrations/alertmanager/nope", _am("fp-1")),
        (f"/integrations/webhook/{hook}", b'{"title": "Queue stuck", "dedup_key": "q-1"}'),
        (f"/integrations/webhook/{hook}", b'{"dedup_key": "q-1", "colour": "red"}'),
    ]
    for path, body in cases:
        fast = _answer(client.post(path, content=body, headers={"content-type": "text/plain"}))
        slow = _answer(routes_only.post(path, content=body))
        if fast[0] == 202 and b"created" in fast[2]:
            # The first of the two created the alert, the second found it.
            slow = (slow[0], slow[1], slow[2].replace(b'"created":false', b'"created":true'))
            fast = (fast[0], [(k, v) for k, v in fast[1] if k != "content-length"], fast[2])
            slow = (slow[0], [(k, v) for k, v in slow[1] if k != "content-length"], slow[2])
        assert fast == slow, (path, body[:80])
        assert fast[0] < 500
    with db.begin() as session:
        query = select(Alert.dedup_key, func.sum(Alert.count)).group_by(Alert.dedup_key)
        counts = {key: int(total) for key, total in session.execute(query)}
    # Each accepted event stored once per path; NUL removed from details before PostgreSQL
    # sees it, and a key holding one refused (cleaned, two keys could fold into one alert).
    assert counts == {"disk-1": 4, "nul-in-details": 2, "fp-1": 2, "q-1": 2}


def test_other_methods_and_paths_still_reach_fastapi(client):
    assert client.get("/v2/enqueue").status_code == 405
    assert client.post("/integrations/alertmanager/").status_code == 404
    assert client.post("/integrations/alertmanager/a/b", content=b"{}").status_code == 404


def test_the_fast_path_keeps_the_size_cap_and_security_headers(client, ada):
    key = make_integration(ada, "pagerduty")["key"]
    too_big = client.post("/v2/enqueue", content=b" " * 1_000_001)
    assert too_big.status_code == 413
    assert too_big.json()["status"] == "invalid event"  # PagerDuty's shape on its endpoint
    accepted = client.post("/v2/enqueue", content=_pd(key, "disk-9"))
    assert accepted.status_code == 202
    assert accepted.headers["x-content-type-options"] == "nosniff"
    assert accepted.headers["x-frame-options"] == "DENY"


def test_over_the_rate_limit_answers_429_with_retry_after(client, ada):
    key = make_integration(ada, "pagerduty", rate_limit_per_minute=1)["key"]
    assert client.post("/v2/enqueue", content=_pd(key, "a")).status_code == 202
    limited = client.post("/v2/enqueue", content=_pd(key, "b"))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["status"] == "throttle event"
