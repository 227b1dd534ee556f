"""A heartbeat change applies at once: a shorter interval or grace moves the deadline back
to the last ping (or creation), so a job that already stopped is missed now, not in an hour."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.alerting import make_integration, run_engine
from tocsin.alerts.models import Alert, Integration
from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.deps import SESSION_COOKIE


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def open_alerts(db) -> list[str]:
    with db.begin() as session:
        return list(session.scalars(select(Alert.title).where(Alert.status != "resolved")))


def due_at(db, integration_id: int):
    with db.begin() as session:
        return session.get(Integration, integration_id).heartbeat_due_at


def test_shortening_the_interval_through_the_api_counts_from_the_last_ping(client, ada, db, clock):
    hb = make_integration(ada, "heartbeat", heartbeat_interval_seconds=3600)
    clock.advance(minutes=5)
    assert client.get(f"/heartbeats/{hb['key']}").status_code == 200
    pinged_at = clock.current
    clock.advance(seconds=30)  # the job stopped right after that ping
    changed = ada.patch(
        f"/api/v1/integrations/{hb['id']}",
        json={"heartbeat_interval_seconds": 10, "heartbeat_grace_seconds": 5},
    )
    assert changed.status_code == 200, changed.text
    assert due_at(db, hb["id"]) == pinged_at + timedelta(seconds=15)
    run_engine(db)
    assert open_alerts(db) == ["heartbeat of payments missed its heartbeat"]


def test_a_heartbeat_never_pinged_counts_from_its_creation(client, ada, db, clock):
    hb = make_integration(ada, "heartbeat", heartbeat_interval_seconds=3600)
    clock.advance(seconds=20)
    ada.patch(f"/api/v1/integrations/{hb['id']}", json={"heartbeat_interval_seconds": 10})
    run_engine(db)
    assert open_alerts(db) == ["heartbeat of payments missed its heartbeat"]


def test_a_shorter_grace_applies_at_once_and_a_longer_interval_gives_more_time(
    client, ada, db, clock
):
    hb = make_integration(
        ada, "heartbeat", heartbeat_interval_seconds=60, heartbeat_grace_seconds=3600
    )
    client.post(f"/heartbeats/{hb['key']}")
    clock.advance(seconds=90)
    run_engine(db)
    assert open_alerts(db) == []
    ada.patch(f"/api/v1/integrations/{hb['id']}", json={"heartbeat_grace_seconds": 0})
    run_engine(db)
    assert len(open_alerts(db)) == 1

    other = make_integration(ada, "heartbeat", service="search", heartbeat_interval_seconds=60)
    client.post(f"/heartbeats/{other['key']}")
    ada.patch(f"/api/v1/integrations/{other['id']}", json={"heartbeat_interval_seconds": 7200})
    clock.advance(minutes=90)
    run_engine(db)
    assert len(open_alerts(db)) == 1  # only the first: the longer interval counts too


def test_changing_a_missed_heartbeat_raises_no_second_alert(client, ada, db, clock):
    hb = make_integration(ada, "heartbeat", heartbeat_interval_seconds=60)
    clock.advance(seconds=61)
    run_engine(db)
    ada.patch(f"/api/v1/integrations/{hb['id']}", json={"heartbeat_interval_seconds": 10})
    clock.advance(seconds=30)
    run_engine(db)
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(Alert.count)) == 1
    assert client.get(f"/heartbeats/{hb['key']}").status_code == 200  # the ping re-arms it
    assert open_alerts(db) == []


def test_shortening_the_interval_through_the_form_applies_at_once(app, ada, admin, db, clock):
    hb = make_integration(ada, "heartbeat", heartbeat_interval_seconds=3600)
    service_id = hb["service"]["id"] if "service" in hb else hb["service_id"]
    with db.begin() as session:
        cookie, login = auth.start_login(session, session.get(User, admin.id), 1)
        csrf = login.csrf_token
    with TestClient(app, cookies={SESSION_COOKIE: cookie}) as web:
        web.get(f"/heartbeats/{hb['key']}")
        clock.advance(minutes=3)
        form = {
            "csrf_token": csrf,
            "name": "nightly backup",
            "heartbeat_interval": "1",
            "heartbeat_grace": "0",
        }
        body = "&".join(f"{k}={quote_plus(v)}" for k, v in form.items())
        saved = web.post(
            f"/services/{service_id}/alerting/integrations/{hb['id']}",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
        )
        assert saved.status_code == 200 and re.search("nightly backup is saved", saved.text)
    run_engine(db)
    assert open_alerts(db) == ["nightly backup missed its heartbeat"]
