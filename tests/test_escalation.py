"""Escalation policies at work: levels fire in turn until someone acknowledges; each step fires
exactly once, also with two worker processes and after a worker is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from tests.alerting import make_integration, run_engine
from tests.conftest import postgres_only
from tocsin.auth.models import Role, User
from tocsin.config import Settings
from tocsin.engine.escalation import EscalationSteps
from tocsin.oncall.models import EscalationLevel
from tocsin.paging import service as paging
from tocsin.paging.models import DeliveryStatus, Notification, Page, PageRecipient, PageStatus
from tocsin.timeline.models import TimelineEvent

WORKER = Path(sys.executable).parent / "tocsin"


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def policy_for(ada, service_id: int, levels: list[tuple[list[int], int]], repeat: int = 0) -> dict:
    body = {
        "name": f"policy of {service_id}",
        "repeat_count": repeat,
        "levels": [
            {"delay_minutes": delay, "targets": [{"type": "user", "id": u} for u in users]}
            for users, delay in levels
        ],
    }
    policy = ada.post("/api/v1/escalation-policies", json=body)
    assert policy.status_code == 201, policy.text
    chosen = ada.put(
        f"/api/v1/services/{service_id}/escalation-policy",
        json={"escalation_policy_id": policy.json()["id"]},
    )
    assert chosen.status_code == 200, chosen.text
    return policy.json()


def trigger(client, key: str, dedup_key: str = "db-1", action: str = "trigger") -> None:
    body = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {
            "summary": f"{dedup_key} is down",
            "source": "probe",
            "severity": "critical",
        }
    assert client.post("/v2/enqueue", json=body).status_code == 202


def alert_timeline(ada) -> list[str]:
    alert_id = ada.get("/api/v1/alerts").json()["items"][0]["id"]
    return [e["message"] for e in ada.get(f"/api/v1/alerts/{alert_id}/timeline").json()][::-1]


def test_levels_page_in_turn_until_someone_acknowledges(
    db, clock, client, ada, api_as, make_user, smtp_server
):
    primary = make_user(Role.RESPONDER, name="Pia Primary", email="pia@example.com")
    secondary = make_user(Role.RESPONDER, name="Sam Secondary", email="sam@example.com")
    integration = make_integration(ada, "pagerduty")
    policy_for(ada, integration["service"]["id"], [([primary.id], 5), ([secondary.id], 5)])
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )

    trigger(client, integration["key"])
    run_engine(db, settings)
    assert len(smtp_server.to("pia@example.com")) == 1 and not smtp_server.to("sam@example.com")
    clock.advance(minutes=4)
    run_engine(db, settings)
    assert not smtp_server.to("sam@example.com")  # not yet: the first level has five minutes
    clock.advance(minutes=1)
    run_engine(db, settings)
    [mail] = smtp_server.to("sam@example.com")
    assert mail["Subject"] == "[critical] ALR-1 db-1 is down"

    alert_id = ada.get("/api/v1/alerts").json()["items"][0]["id"]
    assert api_as(secondary).post(f"/api/v1/alerts/{alert_id}/acknowledge").status_code == 200
    clock.advance(minutes=30)
    run_engine(db, settings)
    assert (
        len(smtp_server.to("pia@example.com")) == 1 and len(smtp_server.to("sam@example.com")) == 1
    )
    said = alert_timeline(ada)
    assert said.index("Paged Pia Primary (level 1)") < said.index("Paged Sam Secondary (level 2)")
    assert "Paging stopped: acknowledged by Sam Secondary" in said
    assert ada.get(f"/api/v1/alerts/{alert_id}/pages").json()[0]["status"] == "acknowledged"


def test_a_policy_repeats_then_runs_out(db, clock, client, ada, make_user):
    only = make_user(Role.RESPONDER, name="Olli Only")
    integration = make_integration(ada, "pagerduty")
    policy_for(ada, integration["service"]["id"], [([only.id], 10)], repeat=1)
    trigger(client, integration["key"])
    for _ in range(4):
        run_engine(db)
        clock.advance(minutes=10)
    said = alert_timeline(ada)
    assert said.count("Paged Olli Only (level 1)") == 1
    assert said.count("Paged Olli Only (level 1, round 2)") == 1
    assert "Paging ran out: every level was paged and nobody acknowledged" in said


def test_resolving_stops_paging_and_escalate_now_skips_the_wait(db, clock, client, ada, make_user):
    first, second = (
        make_user(Role.RESPONDER, name="First"),
        make_user(Role.RESPONDER, name="Second"),
    )
    integration = make_integration(ada, "pagerduty")
    policy_for(ada, integration["service"]["id"], [([first.id], 15), ([second.id], 15)])
    trigger(client, integration["key"])
    run_engine(db)
    alert_id = ada.get("/api/v1/alerts").json()["items"][0]["id"]
    [page] = ada.get(f"/api/v1/alerts/{alert_id}/pages").json()
    assert ada.post(f"/api/v1/alerts/{alert_id}/pages/{page['id']}/escalate").status_code == 200
    run_engine(db)
    assert "Paged Second (level 2)" in alert_timeline(ada)
    trigger(client, integration["key"], action="resolve")
    assert ada.get(f"/api/v1/alerts/{alert_id}/pages").json()[0]["status"] == "resolved"


def test_a_service_without_a_policy_pages_nobody_and_says_so(db, client, ada):
    integration = make_integration(ada, "pagerduty")
    trigger(client, integration["key"])
    run_engine(db)
    said = alert_timeline(ada)
    assert said[-1] == "Nobody was paged: payments has no escalation policy"
    assert not any("started paging" in line for line in said)


# ---------------------------------------------------------------- several worker processes


ESCALATIONS = 200
LEVELS = 3
ROUNDS = 2  # the policy runs twice


def _many_pages(db, ada, make_user, escalations: int) -> tuple[int, list[User]]:
    """Pages of a service whose 3-level policy repeats once: six steps each to fire.

    The policy is made through the API, then its delays are set to 0 in the database:
    with real processes on real time, 0 makes every step due at once, which is what
    racing workers need; the waiting itself is tested above with the test clock.
    """
    people = [
        make_user(Role.RESPONDER, name=f"Level {n}", email=f"level{n}@example.com")
        for n in range(1, LEVELS + 1)
    ]
    service = ada.post("/api/v1/services", json={"name": "checkout"}).json()
    policy_for(ada, service["id"], [([p.id], 1) for p in people], repeat=ROUNDS - 1)
    with db.begin() as session:
        session.execute(update(EscalationLevel).values(delay_minutes=0))
        for n in range(escalations):
            paging.start_page(
                session,
                subject_type="alert",
                subject_id=10_000 + n,
                subject_key=f"ALR-{10_000 + n}",
                title=f"Outage {n}",
                severity="critical",
                service_id=service["id"],
            )
        session.commit()
    return service["id"], people


def _worker(db, smtp_server, log: Path, lease_seconds: int = 60) -> subprocess.Popen:
    """A `tocsin worker` process. A short lease lets a killed worker's sends be retried soon."""
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db.url,
        "TOCSIN_SMTP_URL": smtp_server.url,
        "TOCSIN_ENGINE_TICK_SECONDS": "0.2",
        "TOCSIN_DELIVERY_LEASE_SECONDS": str(lease_seconds),
        "TOCSIN_BASE_URL": "http://tocsin.test",
    }
    return subprocess.Popen(
        [str(WORKER), "worker"],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _counts(db) -> dict[str, int]:
    with db.begin() as session:
        return {
            "open_pages": session.scalar(
                select(func.count()).where(Page.status == PageStatus.ACTIVE.value)
            ),
            "recipients": session.scalar(select(func.count()).select_from(PageRecipient)),
            "paged_events": session.scalar(
                select(func.count()).where(TimelineEvent.kind == "paged")
            ),
            "notifications": session.scalar(select(func.count()).select_from(Notification)),
            "sent": session.scalar(
                select(func.count()).where(Notification.status == DeliveryStatus.SENT.value)
            ),
        }


def _wait_until(condition, what: str, deadline: float = 180.0) -> None:
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while time.monotonic() < give_up:
        if condition():
            return
        pause.wait(0.25)  # a poll interval, not a guess at how long the workers take
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(20)


def _all_done(db, escalations: int) -> bool:
    counts = _counts(db)
    return counts["open_pages"] == 0 and counts["sent"] == escalations * LEVELS * ROUNDS


def _assert_every_step_fired_once(db, smtp_server, escalations: int) -> list[str]:
    steps = escalations * LEVELS * ROUNDS
    counts = _counts(db)
    assert counts == {
        "open_pages": 0,
        "recipients": steps,
        "paged_events": steps,
        "notifications": steps,
        "sent": steps,
    }, counts
    with db.begin() as session:
        exhausted = session.scalar(
            select(func.count()).where(Page.status == PageStatus.EXHAUSTED.value)
        )
        per_page = session.execute(
            text(
                "SELECT subject_id, count(*) FROM timeline_events"
                " WHERE kind = 'paged' GROUP BY subject_id"
            )
        ).all()
    assert exhausted == escalations
    assert {n for _, n in per_page} == {LEVELS * ROUNDS}
    keys = [m["X-Tocsin-Idempotency-Key"] for m in smtp_server.messages]
    assert len(set(keys)) == steps
    return keys


def test_two_workers_fire_every_step_exactly_once(db, ada, make_user, smtp_server, tmp_path):
    postgres_only(db)
    _many_pages(db, ada, make_user, ESCALATIONS)
    workers = [_worker(db, smtp_server, tmp_path / "workers.log") for _ in range(2)]
    try:
        _wait_until(lambda: _all_done(db, ESCALATIONS), "both workers to finish every escalation")
    finally:
        for worker in workers:
            _stop(worker)
    keys = _assert_every_step_fired_once(db, smtp_server, ESCALATIONS)
    assert len(keys) == ESCALATIONS * LEVELS * ROUNDS, "no email was sent twice"


def test_a_worker_killed_mid_run_loses_nothing_and_repeats_no_step(
    db, ada, make_user, smtp_server, tmp_path
):
    postgres_only(db)
    escalations = 80
    _many_pages(db, ada, make_user, escalations)
    first = _worker(db, smtp_server, tmp_path / "worker-1.log", lease_seconds=3)
    try:
        _wait_until(lambda: _counts(db)["sent"] >= 60, "the first worker to be well under way")
    finally:
        _stop(first, signal.SIGKILL)
    assert not _all_done(db, escalations), "the kill came too late to prove anything"
    second = _worker(db, smtp_server, tmp_path / "worker-2.log", lease_seconds=3)
    try:
        _wait_until(lambda: _all_done(db, escalations), "the restarted worker to finish")
    finally:
        _stop(second)
    keys = _assert_every_step_fired_once(db, smtp_server, escalations)
    # Delivery is at least once: only a mail in flight at the kill may have gone out twice.
    assert len(keys) - len(set(keys)) <= 20


def test_running_out_of_levels_still_sends_what_was_queued(
    db, clock, client, ada, api_as, make_user
):
    """A slow notification rule (after 20 minutes) outlives a 10-minute policy: it still goes."""
    only = make_user(Role.RESPONDER, name="Olli Only")
    as_olli = api_as(only)
    hook = as_olli.post(
        "/api/v1/me/contact-methods",
        json={"channel": "webhook", "address": "http://127.0.0.1:9/hook"},
    ).json()
    as_olli.put(
        "/api/v1/me/notification-rules",
        json={"rules": [{"contact_method_id": hook["id"], "delay_minutes": 20}]},
    )
    integration = make_integration(ada, "pagerduty")
    policy_for(ada, integration["service"]["id"], [([only.id], 10)])
    trigger(client, integration["key"])
    run_engine(db)
    clock.advance(minutes=10)
    run_engine(db)
    assert (
        alert_timeline(ada)[-1] == "Paging ran out: every level was paged and nobody acknowledged"
    )
    [queued] = as_olli.get("/api/v1/me/notifications").json()["items"]
    assert queued["status"] == "pending"
    clock.advance(minutes=10)
    run_engine(db)
    assert (
        as_olli.get("/api/v1/me/notifications").json()["items"][0]["attempts"] == 1
    )  # it was tried


def test_a_deactivated_primary_is_skipped_at_once_not_after_the_delay(
    db, clock, client, ada, make_user, smtp_server
):
    """Found by an explorer: with the primary deactivated, level 1 paged nobody and the
    secondary was reached only five minutes later."""
    primary = make_user(Role.RESPONDER, name="Pia Primary", email="pia@example.com")
    secondary = make_user(Role.RESPONDER, name="Sam Secondary", email="sam@example.com")
    integration = make_integration(ada, "pagerduty")
    policy_for(ada, integration["service"]["id"], [([primary.id], 5), ([secondary.id], 5)])
    assert ada.patch(f"/api/v1/users/{primary.id}", json={"is_active": False}).status_code == 200
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    trigger(client, integration["key"])
    run_engine(db, settings)
    assert len(smtp_server.to("sam@example.com")) == 1 and not smtp_server.to("pia@example.com")
    said = alert_timeline(ada)
    assert said.index("Nobody to page at level 1: nobody is on call for this level") < said.index(
        "Paged Sam Secondary (level 2)"
    )


def test_a_deactivated_person_is_not_on_call_and_the_layer_beneath_shows_through(
    db, clock, ada, make_user
):
    ben = make_user(Role.RESPONDER, name="Ben")
    cyd = make_user(Role.RESPONDER, name="Cyd")
    body = {
        "name": "Payments primary",
        "time_zone": "UTC",
        "layers": [
            {
                "name": "backstop",
                "participant_ids": [cyd.id],
                "shift_unit": "weeks",
                "shift_length": 1,
                "handoff_time": "09:00",
                "start": "2026-03-02",
            },
            {
                "name": "weekly",
                "participant_ids": [ben.id],
                "shift_unit": "weeks",
                "shift_length": 1,
                "handoff_time": "09:00",
                "start": "2026-03-02",
            },
        ],
    }
    schedule = ada.post("/api/v1/schedules", json=body)
    assert schedule.status_code == 201, schedule.text
    on_call = f"/api/v1/schedules/{schedule.json()['id']}/on-call"
    assert ada.get(on_call).json()["user"]["name"] == "Ben"
    ada.patch(f"/api/v1/users/{ben.id}", json={"is_active": False})
    assert ada.get(on_call).json()["user"]["name"] == "Cyd"


def test_a_long_pass_times_each_step_when_it_acts_so_no_level_comes_early(
    db, clock, ada, make_user
):
    """A pass over 60 due pages where each batch's commit takes 20 s (a loaded database): the
    pages of the last batch are paged 40 s after the pass began, and their second level
    still comes a full 5 minutes after their first, not 5 minutes after the pass began."""
    first = make_user(Role.RESPONDER, name="First", email="first@example.com")
    second = make_user(Role.RESPONDER, name="Second", email="second@example.com")
    service = ada.post("/api/v1/services", json={"name": "checkout"}).json()
    policy_for(ada, service["id"], [([first.id], 5), ([second.id], 5)])
    with db.begin() as session:
        for n in range(60):
            paging.start_page(
                session,
                subject_type="alert",
                subject_id=10_000 + n,
                subject_key=f"ALR-{10_000 + n}",
                title=f"Outage {n}",
                severity="critical",
                service_id=service["id"],
            )
        session.commit()
    steps = EscalationSteps(Settings(database_url=db.url, base_url="http://tocsin.test"))

    def slow_commit(_session: Session, transaction) -> None:
        if transaction.parent is None:  # a batch's transaction, not a page's savepoint
            clock.advance(seconds=20)

    event.listen(Session, "after_transaction_end", slow_commit)
    try:
        started = clock.current
        assert steps.run_due(db, started) == 60
    finally:
        event.remove(Session, "after_transaction_end", slow_commit)
    # Then the engine runs every 10 s until each second level has fired.
    while clock.current < started + timedelta(minutes=6):
        clock.advance(seconds=10)
        steps.run_due(db, clock.current)

    with db.begin() as session:
        queued = {
            (n.page_id, n.address): n.created_at
            for n in session.scalars(select(Notification).where(Notification.purpose == "page"))
        }
        paged_events = list(
            session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "paged"))
        )
    assert len(queued) == 120
    pages = {page_id for page_id, _ in queued}
    assert max(queued[(p, "first@example.com")] for p in pages) >= started + timedelta(seconds=40)
    for page_id in pages:
        gap = queued[(page_id, "second@example.com")] - queued[(page_id, "first@example.com")]
        assert timedelta(minutes=5) <= gap <= timedelta(minutes=5, seconds=10), (page_id, gap)
    # Each "Paged ..." entry carries the time it was paged, not the pass's start.
    assert {e.at for e in paged_events} >= {started + timedelta(seconds=40)}
