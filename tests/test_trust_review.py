"""The smaller findings of the second security review (issue 18): one-click links stop with
their person, the SQLite files are owner-only, the first admin's password obeys the rule,
secrets in paths stay out of the logs, and the heartbeat endpoint checks its key before it
writes and is limited per key."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests import test_cli
from tests.alerting import make_integration, run_engine
from tests.conftest import assert_error
from tocsin.alerts import service as alerts
from tocsin.alerts.models import Alert
from tocsin.alerts.schemas import IntegrationCreate
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import UserCreate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate
from tocsin.cli import app as cli
from tocsin.config import Settings, get_settings
from tocsin.db import Database
from tocsin.paging.models import Notification

# ---------------------------------------------------------------- one-click links


def test_a_one_click_link_stops_working_when_its_person_is_deactivated(
    db, clock, api_as, admin, make_user, smtp_server, client
):
    rita, bob = api_as(make_user(Role.RESPONDER, name="Rita")), make_user(Role.RESPONDER)
    incident = rita.post(
        "/api/v1/incidents", json={"summary": "Checkout fails", "severity": "SEV1"}
    ).json()
    paged = rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    assert paged.status_code == 201, paged.text
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    run_engine(db, settings)
    [mail] = smtp_server.to(bob.email)
    link = re.search(r"Acknowledge: (\S+)", mail.get_content()).group(1)
    path = link.removeprefix("http://tocsin.test")

    deactivated = api_as(admin).patch(f"/api/v1/users/{bob.id}", json={"is_active": False})
    assert deactivated.status_code == 200, deactivated.text
    shown = client.get(path)
    assert shown.status_code == 403 and "deactivated" in shown.text
    refused = client.post(path, headers={"accept": "application/json"})
    assert refused.status_code == 403
    assert "deactivated" in refused.text
    [page] = rita.get(f"/api/v1/incidents/{incident['key']}/pages").json()
    assert page["status"] == "active"  # nobody acknowledged in Bob's name


# ---------------------------------------------------------------- files on disk


def test_the_sqlite_file_its_wal_and_shm_and_var_are_owner_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)  # the usual umask, which would make them world-readable
    try:
        monkeypatch.setenv("TOCSIN_DATABASE_URL", "sqlite:///./var/tocsin.db")
        get_settings.cache_clear()
        upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        database = Database("sqlite:///./var/tocsin.db")
        try:
            with database.begin() as session:  # a write, so the -wal and -shm exist
                auth.create_user(
                    session, None, UserCreate(email="ops@example.org", name="Ops", role="admin")
                )
                session.commit()
            with database.engine.connect() as reader:  # keeps the -wal and -shm in place
                reader.exec_driver_sql("SELECT 1 FROM users").all()
                modes = {
                    name: stat.S_IMODE((tmp_path / "var" / name).stat().st_mode)
                    for name in ("tocsin.db", "tocsin.db-wal", "tocsin.db-shm")
                }
        finally:
            database.dispose()
    finally:
        os.umask(previous)
        get_settings.cache_clear()
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert modes == {"tocsin.db": 0o600, "tocsin.db-wal": 0o600, "tocsin.db-shm": 0o600}


# ---------------------------------------------------------------- the first admin


def test_serve_refuses_a_short_first_admin_password(db, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db.url)
    monkeypatch.setenv("TOCSIN_ADMIN_PASSWORD", "short")
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == 1
    assert "TOCSIN_ADMIN_PASSWORD" in refused.stderr and "10" in refused.stderr
    assert "Traceback" not in refused.output
    with db.begin() as session:
        assert session.scalar(select(User)) is None  # no admin with a weak password


@test_cli.needs_console_script
def test_tocsin_serve_exits_non_zero_on_a_short_admin_password(tmp_path):
    env = test_cli._environment(tmp_path / "tocsin.db", TOCSIN_ADMIN_PASSWORD="hunter2")
    subprocess.run(
        [str(test_cli.TOCSIN), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    refused = subprocess.run(
        [str(test_cli.TOCSIN), "serve", "--port", str(test_cli._free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "TOCSIN_ADMIN_PASSWORD" in refused.stderr and "Traceback" not in refused.stderr


# ---------------------------------------------------------------- secrets out of the logs


@test_cli.needs_console_script
def test_the_access_log_shows_paths_with_their_secrets_replaced(tmp_path):
    path = tmp_path / "tocsin.db"
    env = test_cli._environment(path, TOCSIN_ACCESS_LOG="true")
    subprocess.run(
        [str(test_cli.TOCSIN), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    database = Database(f"sqlite:///{path}")
    try:
        with database.begin() as session:
            admin, _ = auth.create_user(
                session, None, UserCreate(email="ops@example.org", name="Ops", role="admin")
            )
            payments = catalogue.create_service(session, admin, ServiceCreate(name="payments"))
            data = IntegrationCreate(
                service_id=payments.id,
                name="backup",
                kind="heartbeat",
                heartbeat_interval_seconds=60,
            )
            _, key = alerts.create_integration(session, admin, data)
    finally:
        database.dispose()
    ack = "act_0123456789abcdef_" + "S3cretAckPart" * 3
    feed = "cal_0123456789abcdef_" + "S3cretFeedPart" * 3
    with test_cli.serving(env, tmp_path) as served:
        assert test_cli.http("GET", f"{served.base}/heartbeats/{key}")[0] == 200
        test_cli.http("POST", f"{served.base}/integrations/webhook/{key}")
        test_cli.http("GET", f"{served.base}/respond/{ack}")
        test_cli.http("GET", f"{served.base}/oncall/users/1/calendar.ics?token={feed}")
        test_cli.http("GET", f"{served.base}/status/acme/subscriptions/{ack}/confirm")
    logs = served.stdout + next(tmp_path.glob("serve-*.err")).read_text()
    assert f"GET /heartbeats/{key[:12]}… HTTP/1.1" in logs
    assert "GET /respond/act_0123456789abcdef_… HTTP/1.1" in logs
    assert "GET /oncall/users/1/calendar.ics?token=… HTTP/1.1" in logs
    for secret in (key, key[12:], "S3cretAckPart", "S3cretFeedPart"):
        assert secret not in logs


def test_the_error_log_names_a_failing_path_without_its_secret(app, ada_api, caplog, monkeypatch):
    key = make_integration(ada_api, "heartbeat", heartbeat_interval_seconds=60)["key"]

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(alerts, "heartbeat_ping", broken)
    quiet = TestClient(app, raise_server_exceptions=False)  # no lifespan: a request is enough
    with caplog.at_level(logging.ERROR, logger="tocsin"):
        assert quiet.post(f"/heartbeats/{key}").status_code == 500
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"unexpected error on POST /heartbeats/{key[:12]}…" in logged
    assert key[12:] not in caplog.text


# ---------------------------------------------------------------- heartbeat pings


@pytest.fixture
def ada_api(api_as, admin):
    return api_as(admin)


def test_a_ping_with_a_wrong_key_opens_no_write_transaction(client, ada_api, db, monkeypatch):
    webhook_key = make_integration(ada_api, "webhook")["key"]
    writes: list[bool] = []
    opened = db.session

    def watched(*, write: bool = True):
        writes.append(write)
        return opened(write=write)

    monkeypatch.setattr(db, "session", watched)
    for key in ("f" * 32, webhook_key, webhook_key[:12] + "0" * 20):
        assert_error(client.get(f"/heartbeats/{key}"), 404)
    assert True not in writes


def test_heartbeat_pings_are_limited_per_key_with_retry_after(client, ada_api, db, clock):
    noisy = make_integration(
        ada_api, "heartbeat", heartbeat_interval_seconds=60, rate_limit_per_minute=2
    )
    calm = make_integration(ada_api, "heartbeat", service="search", heartbeat_interval_seconds=60)
    assert client.post(f"/heartbeats/{noisy['key']}").status_code == 200
    assert client.get(f"/heartbeats/{noisy['key']}").status_code == 200
    limited = client.post(f"/heartbeats/{noisy['key']}")
    assert_error(limited, 429, code="rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert client.post(f"/heartbeats/{calm['key']}").status_code == 200  # its own budget
    with db.begin() as session:
        assert session.scalar(select(Alert)) is None


# ---------------------------------------------------------------- "Send test"


def test_send_test_does_not_echo_the_address_with_its_credentials(api_as, responder, db):
    mine = api_as(responder)
    address = "json://ops:Pa55wordMarker@hooks.example.org/T0kenMarkerT0kenMarker"
    method = mine.post(
        "/api/v1/me/contact-methods",
        json={"channel": "apprise", "address": address, "label": "pager"},
    ).json()
    sent = mine.post(f"/api/v1/me/contact-methods/{method['id']}/test")
    assert sent.status_code == 202, sent.text
    with db.begin() as session:
        [body] = session.scalars(select(Notification.body)).all()
    assert "'pager'" in body
    for secret in ("Pa55wordMarker", "T0kenMarker"):
        assert secret not in body
