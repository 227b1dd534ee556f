"""Delivering through failures: a page that cannot be built or sent is that attempt's failure
(recorded, retried, given up, never stuck and never in the way of the next one), a dead
worker's sends come back within seconds and in level order, and a repeat keeps its
Message-ID. Real peers: an aiosmtpd server and a local HTTP receiver."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.alerting import make_integration, run_engine
from tests.conftest import postgres_only
from tests.statuspage_world import build_page, publish
from tests.test_escalation import _stop, _wait_until, _worker, policy_for
from tocsin.auth.models import Role
from tocsin.config import Settings
from tocsin.engine.alert_router import AlertRouter
from tocsin.engine.delivery import Deliveries
from tocsin.engine.escalation import EscalationSteps
from tocsin.oncall.models import EscalationLevel
from tocsin.paging import channels
from tocsin.paging import service as paging
from tocsin.paging.models import DeliveryStatus, Notification, PageRecipient
from tocsin.timeline.models import TimelineEvent


@pytest.fixture
def settings_for(db):
    def make(mailbox, **extra) -> Settings:
        return Settings(
            database_url=db.url, base_url="http://tocsin.test", smtp_url=mailbox.url, **extra
        )

    return make


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def service_paging(ada, levels_of_people: list[list]) -> str:
    """A service whose policy pages each list of people at a level of its own (5 minutes
    apart); returns its integration key."""
    integration = make_integration(ada, "pagerduty", service="checkout")
    levels = [
        {"delay_minutes": 5, "targets": [{"type": "user", "id": person.id} for person in people]}
        for people in levels_of_people
    ]
    policy = ada.post(
        "/api/v1/escalation-policies", json={"name": "checkout on-call", "levels": levels}
    )
    assert policy.status_code == 201, policy.text
    chosen = ada.put(
        f"/api/v1/services/{integration['service']['id']}/escalation-policy",
        json={"escalation_policy_id": policy.json()["id"]},
    )
    assert chosen.status_code == 200, chosen.text
    return integration["key"]


def trigger(client, key: str, dedup_key: str, summary: str) -> None:
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": summary, "source": "probe", "severity": "critical"},
    }
    answer = client.post("/v2/enqueue", json=body)
    assert answer.status_code == 202, answer.text


def declare(api) -> dict:
    return api.post("/api/v1/incidents", json={"summary": "Queue stuck", "severity": "SEV2"}).json()


def outbox(db) -> list[Notification]:
    with db.begin() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_newline_title_a_crlf_summary_and_a_bad_webhook_host_end_within_one_retry(
    db, clock, client, ada, api_as, make_user, smtp_server, webhook_receiver, settings_for
):
    """Each of them is sent (headers folded to one line) or a recorded failure after one
    pass, and the other notifications to the same person go out in the same pass."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    wendy = make_user(Role.RESPONDER, name="Wendy", email="wendy@example.com")
    as_wendy = api_as(wendy)
    methods = [
        as_wendy.post(
            "/api/v1/me/contact-methods",
            json={"channel": "webhook", "address": address, "label": label},
        ).json()
        for address, label in (("http://℀/", "broken hook"), (webhook_receiver.url, "pager app"))
    ]
    as_wendy.put(
        "/api/v1/me/notification-rules",
        json={"rules": [{"contact_method_id": m["id"], "delay_minutes": 0} for m in methods]},
    )
    key = service_paging(ada, [[bob, wendy]])
    trigger(client, key, "disk", "Disk 95% full\non db-1")
    trigger(client, key, "cpu", "CPU hot on db-2")
    rita = api_as(make_user(Role.RESPONDER, name="Rita"))
    incident = rita.post(
        "/api/v1/incidents", json={"summary": "Queue stuck\r\nsince 09:00", "severity": "SEV2"}
    ).json()
    paged = rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    assert paged.status_code == 201, paged.text

    run_engine(db, settings_for(smtp_server))

    subjects = sorted(m["Subject"] for m in smtp_server.to("bob@example.com"))
    assert subjects == [
        "[SEV2] " + incident["key"] + " Queue stuck since 09:00",
        "[critical] ALR-1 Disk 95% full on db-1",
        "[critical] ALR-2 CPU hot on db-2",
    ]
    assert sorted(body["title"] for _, body in webhook_receiver.received) == [
        "CPU hot on db-2",
        "Disk 95% full\non db-1",  # JSON carries the line break as it is
    ]
    broken = [n for n in outbox(db) if n.address == "http://℀/"]
    assert len(broken) == 2
    for notification in broken:
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert notification.last_error.startswith("the webhook address is not a valid URL")
    assert not [n for n in outbox(db) if n.status == DeliveryStatus.SENDING.value]

    clock.advance(seconds=31)
    run_engine(db, settings_for(smtp_server))
    assert {(n.status, n.attempts) for n in outbox(db) if n.address == "http://℀/"} == {
        ("pending", 2)
    }
    assert len(smtp_server.messages) == 3 and len(webhook_receiver.received) == 2


def test_any_failure_while_sending_is_that_attempts_and_is_given_up_in_time(
    db, clock, make_user, api_as, smtp_server, webhook_receiver, settings_for, caplog
):
    """A mail server URL whose port cannot be read raises ValueError while sending: each
    attempt is recorded and logged (without the server's password), retried with backoff
    and given up after the last, while the webhook queued beside it is delivered."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    as_bob = api_as(bob)
    methods = [
        as_bob.post(
            "/api/v1/me/contact-methods",
            json={"channel": channel, "address": address, "label": channel},
        ).json()
        for channel, address in (("email", "bob@example.com"), ("webhook", webhook_receiver.url))
    ]
    as_bob.put(
        "/api/v1/me/notification-rules",
        json={"rules": [{"contact_method_id": m["id"], "delay_minutes": 0} for m in methods]},
    )
    rita = api_as(make_user(Role.RESPONDER, name="Rita"))
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    settings = settings_for(smtp_server)
    settings.smtp_url = "smtp://relay:hunter2-secret@127.0.0.1:99999"

    with caplog.at_level(logging.WARNING, logger="tocsin.delivery"):
        run_engine(db, settings)
    assert len(webhook_receiver.received) == 1
    [mail] = [n for n in outbox(db) if n.channel == "email"]
    assert (mail.status, mail.attempts) == ("pending", 1)
    assert mail.last_error == "could not send it: ValueError: Port out of range 0-65535"
    [logged] = [r.getMessage() for r in caplog.records if mail.idempotency_key in r.getMessage()]
    assert logged == (
        f"notification {mail.idempotency_key} by email to bob@example.com via smtp://127.0.0.1/… "
        "failed (attempt 1): could not send it: ValueError: Port out of range 0-65535"
    )
    assert "hunter2" not in caplog.text
    shown = as_bob.get("/api/v1/me/notifications").json()["items"]
    assert {(n["channel"], n["status"]) for n in shown} == {
        ("email", "pending"),
        ("webhook", "sent"),
    }

    for _attempt in range(2, paging.MAX_ATTEMPTS + 1):
        clock.advance(minutes=16)  # past the longest backoff
        run_engine(db, settings)
    [mail] = [n for n in outbox(db) if n.idempotency_key == mail.idempotency_key]
    assert (mail.status, mail.attempts) == ("failed", paging.MAX_ATTEMPTS)
    timeline = rita.get(f"/api/v1/incidents/{incident['key']}/timeline").json()
    messages = [event["message"] for event in timeline]
    assert any(m.startswith("Gave up notifying Bob by email after 8 attempts") for m in messages)
    clock.advance(minutes=16)
    run_engine(db, settings)
    given_up = [n for n in outbox(db) if n.idempotency_key == mail.idempotency_key]
    assert [(n.status, n.attempts) for n in given_up] == [("failed", paging.MAX_ATTEMPTS)]


def test_a_failed_send_is_logged_with_its_channel_redacted(
    db, make_user, api_as, smtp_server, webhook_receiver, settings_for, caplog
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    as_bob = api_as(bob)
    secret_url = webhook_receiver.url.replace("http://", "http://hook:pa55word-42@") + (
        "/T0KEN-0123456789abcdef"
    )
    method = as_bob.post(
        "/api/v1/me/contact-methods", json={"channel": "webhook", "address": secret_url}
    ).json()
    webhook_receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="tocsin.delivery"):
        as_bob.post(f"/api/v1/me/contact-methods/{method['id']}/test")
        run_engine(db, settings_for(smtp_server))
    [record] = [r for r in caplog.records if r.name == "tocsin.delivery"]
    [notification] = outbox(db)
    port = webhook_receiver.url.split(":")[2].split("/")[0]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"notification {notification.idempotency_key} by webhook http://127.0.0.1:{port}/… "
        "failed (attempt 1): the webhook answered 500"
    )
    assert "pa55word" not in caplog.text and "T0KEN" not in caplog.text


def test_a_mail_handed_over_before_its_worker_died_goes_again_with_the_same_message_id(
    db, clock, make_user, api_as, smtp_server, settings_for
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    rita = api_as(make_user(Role.RESPONDER, name="Rita"))
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    settings = settings_for(smtp_server)
    EscalationSteps(settings).run_due(db, clock.current)
    with db.begin() as session:
        [claimed] = paging.claim_deliveries(
            session, clock.current, 8, timedelta(seconds=settings.delivery_lease_seconds)
        )
        session.commit()
    channels.send(claimed, settings)  # handed to the SMTP server, then the worker dies

    clock.advance(seconds=settings.delivery_lease_seconds + 1)
    assert Deliveries(settings).run_due(db, clock.current) == 1
    first, again = smtp_server.to("bob@example.com")
    key = claimed.idempotency_key
    assert first["Message-ID"] == again["Message-ID"] == f"<{key.replace(':', '.')}@localhost>"
    assert first["X-Tocsin-Idempotency-Key"] == again["X-Tocsin-Idempotency-Key"] == key
    [notification] = outbox(db)
    assert (notification.status, notification.attempts) == ("sent", 2)


def test_a_dead_workers_sends_come_back_after_the_short_lease_and_in_level_order(
    db, clock, client, ada, make_user, smtp_server, settings_for
):
    """Level 2 (no delay) does not overtake level 1, whose worker died holding it; level 1
    goes out once its lease of a few seconds runs out, then level 2."""
    first = make_user(Role.RESPONDER, name="First", email="first@example.com")
    second = make_user(Role.RESPONDER, name="Second", email="second@example.com")
    key = service_paging(ada, [[first], [second]])
    with db.begin() as session:
        session.execute(update(EscalationLevel).values(delay_minutes=0))
        session.commit()
    trigger(client, key, "db-1", "db-1 is down")
    settings = settings_for(smtp_server)
    AlertRouter().run_due(db, clock.current)
    EscalationSteps(settings).run_due(db, clock.current)
    with db.begin() as session:
        [held] = paging.claim_deliveries(session, clock.current, 8)  # then its worker dies
        session.commit()
    EscalationSteps(settings).run_due(db, clock.current)  # level 2 fires at once
    assert [n.address for n in outbox(db)] == ["first@example.com", "second@example.com"]
    assert held.address == "first@example.com"

    deliveries = Deliveries(settings)
    clock.advance(seconds=1)
    assert deliveries.run_due(db, clock.current) == 0  # level 2 waits for level 1
    clock.advance(seconds=settings.delivery_lease_seconds)
    assert deliveries.run_due(db, clock.current) == 2
    assert [m["To"] for m in smtp_server.messages] == ["first@example.com", "second@example.com"]


def test_a_send_longer_than_the_lease_keeps_it_renewed(
    db, clock, make_user, api_as, smtp_server, webhook_receiver, settings_for
):
    """A slow webhook holds the send past its lease; the sender renews it, so another worker
    does not take it over and send it a second time."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    as_bob = api_as(bob)
    method = as_bob.post(
        "/api/v1/me/contact-methods", json={"channel": "webhook", "address": webhook_receiver.url}
    ).json()
    as_bob.post(f"/api/v1/me/contact-methods/{method['id']}/test")
    answer = threading.Event()
    webhook_receiver.hold = answer
    settings = settings_for(smtp_server, delivery_lease_seconds=1)
    sender = threading.Thread(target=Deliveries(settings).run_due, args=(db, clock.current))
    sender.start()
    try:
        _wait_until(lambda: webhook_receiver.waiting, "the webhook to be called")
        start = outbox(db)[0].lease_until
        clock.advance(seconds=2)  # past the first lease
        _wait_until(lambda: outbox(db)[0].lease_until > clock.current, "the lease to be renewed")
        assert outbox(db)[0].lease_until > start
        assert Deliveries(settings).run_due(db, clock.current) == 0  # another worker
    finally:
        answer.set()
        sender.join(30)
    [notification] = outbox(db)
    assert (notification.status, notification.attempts) == ("sent", 1)
    assert len(webhook_receiver.received) == 1


def test_a_send_whose_worker_died_on_the_last_attempt_is_given_up_not_left_sending(
    db, clock, make_user, api_as, smtp_server, settings_for
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    rita = api_as(make_user(Role.RESPONDER, name="Rita"))
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    settings = settings_for(smtp_server)
    EscalationSteps(settings).run_due(db, clock.current)
    with db.begin() as session:
        session.execute(update(Notification).values(attempts=paging.MAX_ATTEMPTS - 1))
        session.commit()
    with db.begin() as session:
        assert len(paging.claim_deliveries(session, clock.current, 8)) == 1  # then it dies
        session.commit()
    clock.advance(seconds=settings.delivery_lease_seconds + 1)
    assert Deliveries(settings).run_due(db, clock.current) == 0
    [notification] = outbox(db)
    assert (notification.status, notification.attempts) == ("failed", paging.MAX_ATTEMPTS)
    assert notification.last_error == "the worker sending it stopped during the last attempt"
    assert smtp_server.messages == []


# ---------------------------------------------------------------- a worker killed mid-send

CRASH_PAGES = 30
CRASH_LEVELS = 3


def _crash_outbox(db) -> list[Notification]:
    with db.begin() as session:
        return list(session.scalars(select(Notification)))


def _ports_connected(pid: int, port: int) -> set[int]:
    """The local ports of process `pid`'s TCP connections to `port` on this machine (/proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port and fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def _wait_closely(condition, what: str, deadline: float = 30.0) -> None:
    """Waits on `condition`, looking often: the moment matters (a kill while sends are held)."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.02)


def test_two_workers_one_killed_mid_send_during_a_mail_outage_page_every_level_once_in_order(
    db, ada, make_user, smtp_server, tmp_path
):
    """A 3-level escalation of many alerts, two `tocsin worker` processes, the mail server
    down for about 30 s, then one worker killed with -9 while both hold sends: every
    notification goes out, each step once, in level order, none later than 10 s after the
    kill beyond its due time, and a repeated mail keeps its Message-ID."""
    postgres_only(db)
    people = [
        make_user(Role.RESPONDER, name=f"Level {n}", email=f"level{n}@example.com")
        for n in range(1, CRASH_LEVELS + 1)
    ]
    service = ada.post("/api/v1/services", json={"name": "checkout"}).json()
    policy_for(ada, service["id"], [([p.id], 1) for p in people])
    with db.begin() as session:
        # Real processes on real time: no delay between levels, so their order is the
        # delivery's to keep, not the clock's.
        session.execute(update(EscalationLevel).values(delay_minutes=0))
        for n in range(CRASH_PAGES):
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
    steps = CRASH_PAGES * CRASH_LEVELS
    smtp_server.refusing = True  # the mail server is down from the start
    log = tmp_path / "workers.log"
    doomed, survivor = (_worker(db, smtp_server, log, lease_seconds=5) for _ in range(2))
    try:
        _wait_until(
            lambda: (
                sum(n.attempts >= 1 and n.status == "pending" for n in _crash_outbox(db)) == steps
            ),
            "every level's first attempt to fail while the mail server is down",
        )
        first_retry = min(n.due_at for n in _crash_outbox(db)).timestamp()
        # The server comes back just before the first retries are due (about 30 s down),
        # stalling each message, so that both workers are caught holding sends.
        _wait_until(lambda: time.time() >= first_retry - 1, "the outage to last", deadline=60)
        smtp_server.gate = threading.Event()
        smtp_server.refusing = False
        # The kill comes while the doomed worker waits for the server to take a mail it has
        # handed over (well within a mail client's timeout, so no send times out).
        smtp_port = int(smtp_server.url.rsplit(":", 1)[1])
        _wait_closely(
            lambda: smtp_server.held_from & _ports_connected(doomed.pid, smtp_port),
            "the worker to be killed to hand a mail over",
        )
        _stop(doomed, signal.SIGKILL)
        killed_at = time.time()
        held = {n.id: n.attempts for n in _crash_outbox(db) if n.status == "sending"}
        smtp_server.gate.set()
        _wait_until(
            lambda: sum(n.status == "sent" for n in _crash_outbox(db)) == steps,
            "the surviving worker to send everything",
        )
    finally:
        for worker in (doomed, survivor):
            _stop(worker)

    outbox = {n.id: n for n in _crash_outbox(db)}
    assert len(outbox) == steps
    with db.begin() as session:
        recipients = session.scalar(select(func.count()).select_from(PageRecipient))
        paged = session.scalars(
            select(TimelineEvent.subject_id).where(TimelineEvent.kind == "paged")
        )
        assert recipients == steps and sorted(paged) == sorted(
            10_000 + n for n in range(CRASH_PAGES) for _ in range(CRASH_LEVELS)
        )
    # The dead worker's sends were taken over (a newer attempt), within 10 s of the kill.
    taken_over = [outbox[i] for i, attempts in held.items() if outbox[i].attempts > attempts]
    assert taken_over, "the killed worker held no send: the kill proved nothing"
    for n in outbox.values():
        late = n.sent_at.timestamp() - max(n.due_at.timestamp(), killed_at)
        assert late <= 10, f"{n.idempotency_key} went out {late:.1f} s late"
    # Each page's levels arrived in order; a repeated mail kept its Message-ID.
    arrival: dict[str, int] = {}
    message_ids: dict[str, set[str]] = {}
    for position, mail in enumerate(smtp_server.messages):
        key = mail["X-Tocsin-Idempotency-Key"]
        arrival.setdefault(key, position)
        message_ids.setdefault(key, set()).add(mail["Message-ID"])
    assert set(arrival) == {n.idempotency_key for n in outbox.values()}
    assert all(ids == {f"<{key.replace(':', '.')}@localhost>"} for key, ids in message_ids.items())
    by_page: dict[int, list[tuple[str, int]]] = {}
    for n in outbox.values():
        by_page.setdefault(n.page_id, []).append((n.idempotency_key, arrival[n.idempotency_key]))
    for keys in by_page.values():
        in_level_order = [key for key, _ in sorted(keys)]  # ...:l0:..., :l1:, :l2:
        assert [key for key, _ in sorted(keys, key=lambda k: k[1])] == in_level_order


def test_a_public_incident_named_over_two_lines_still_reaches_its_subscribers(
    db, admin, responder, api_as, smtp_server, settings_for
):
    world = build_page(db, admin)
    api_as(admin).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"address": "carla@customer.example", "skip_confirmation": True},
    )
    publish(db, responder, world, "API errors\r\nin the EU")
    publish(db, responder, world, "Slow website")
    run_engine(db, settings_for(smtp_server))
    assert sorted(m["Subject"] for m in smtp_server.to("carla@customer.example")) == [
        "[Acme Cloud] API errors in the EU: Investigating",
        "[Acme Cloud] Slow website: Investigating",
    ]
