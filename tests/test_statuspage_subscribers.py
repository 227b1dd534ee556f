"""Status page subscribers: a customer subscribes by email from the public page (double
opt-in through a real SMTP server), hears about what they follow, and unsubscribes with one
click; webhooks get Statuspage's JSON; failures are retried and shown; maintenance reminds
an hour before, once."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from tests.alerting import run_engine
from tests.conftest import assert_error, browser_login, postgres_only
from tests.statuspage_world import World, build_page, publish, update
from tocsin.config import Settings
from tocsin.db import now
from tocsin.engine.maintenance import MaintenanceTransitions
from tocsin.engine.runner import EngineRunner
from tocsin.engine.subscriber_updates import SubscriberUpdates
from tocsin.paging.addresses import redacted
from tocsin.paging.models import Notification
from tocsin.statuspage import service as statuspage
from tocsin.statuspage import subscribers
from tocsin.statuspage.models import StatusPage, Subscriber
from tocsin.statuspage.schemas import MaintenanceCreate, MaintenanceUpdatePost

CUSTOMER = "carla@customer.example"


@pytest.fixture
def mail_settings(db, smtp_server) -> Settings:
    return Settings(database_url=db.url, base_url="http://testserver", smtp_url=smtp_server.url)


@pytest.fixture
def anonymous(app):
    # closing(), not `with TestClient`: several clients must not each run the app's lifespan.
    with closing(TestClient(app, follow_redirects=False)) as browser:
        yield browser


def form_token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def code_of(page_html: str, component: str) -> str:
    return re.search(rf'value="(\w+)"> {component}</label>', page_html).group(1)


def link(mail, ending: str) -> str:
    found = re.search(rf"(http://testserver/\S+/{ending})\b", mail.get_content())
    assert found, mail.get_content()
    return found.group(1)


def subscribe(browser: TestClient, slug: str, email: str, *components: str):
    form = browser.get(f"/status/{slug}/subscribe")
    assert form.status_code == 200
    codes = [code_of(form.text, c) for c in components]
    return browser.post(
        f"/status/{slug}/subscribe",
        data={"email": email, "csrf_token": form_token(form.text), "component": codes},
    )


def subscriber_count(db) -> int:
    with db.begin() as session:
        return session.scalar(select(func.count()).select_from(Subscriber))


def test_a_customer_subscribes_to_one_component_gets_each_update_and_unsubscribes(
    db, admin, responder, anonymous, smtp_server, mail_settings
):
    world = build_page(db, admin)
    assert "Subscribe to updates" in anonymous.get("/status/acme").text
    answer = subscribe(anonymous, "acme", CUSTOMER, "API")
    assert answer.status_code == 200 and "Check your inbox" in answer.text

    # Not confirmed yet: the confirmation mail, and nothing about incidents.
    first = publish(db, responder, world, "API errors", {world.api: "partial_outage"})
    run_engine(db, mail_settings)
    [confirmation] = smtp_server.to(CUSTOMER)
    assert confirmation["Subject"] == "Confirm your subscription to Acme Cloud status"
    assert "Acme Cloud: API" in confirmation.get_content()
    confirm = link(confirmation, "confirm")
    shown = anonymous.get(confirm)
    assert shown.status_code == 200 and "Confirm subscription" in shown.text
    assert "You are subscribed" in anonymous.post(confirm).text

    # Each update about the API with "notify" arrives; the website and quiet updates do not.
    update(db, responder, world, first, "identified", "A bad deploy; rolling back.")
    publish(db, responder, world, "Slow website", {world.web: "degraded_performance"})
    update(db, responder, world, first, "monitoring", "Typo fix only.", notify=False)
    with db.begin() as session:
        statuspage.resolve_incident(session, responder, world.page_id, first, "All good again.")
    run_engine(db, mail_settings)
    # Sent concurrently, so they may arrive in either order.
    mails = sorted(smtp_server.to(CUSTOMER)[1:], key=lambda m: m["Subject"])
    assert [m["Subject"] for m in mails] == [
        "[Acme Cloud] API errors: Identified",
        "[Acme Cloud] API errors: Resolved",
    ]
    assert "A bad deploy; rolling back." in mails[0].get_content()
    assert "http://testserver/status/acme/incidents/" in mails[0].get_content()

    # One click: RFC 8058 headers, and the mail client's POST unsubscribes at once.
    last = mails[-1]
    unsubscribe = link(last, "unsubscribe")
    assert last["List-Unsubscribe"] == f"<{unsubscribe}>"
    # As mail clients read it: the URL itself, not RFC 2047 encoded words.
    assert dict(last.raw_items())["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert last["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Unsubscribe?" in anonymous.get(unsubscribe).text
    gone = anonymous.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200 and "You are unsubscribed" in gone.text
    assert subscriber_count(db) == 0
    used = anonymous.get(unsubscribe)  # said on the status page, with a way on
    assert used.status_code == 404 and "Link not valid" in used.text
    assert 'href="/status/acme/subscribe"' in used.text

    publish(db, responder, world, "API errors again", {world.api: "major_outage"})
    run_engine(db, mail_settings)
    assert len(smtp_server.to(CUSTOMER)) == 3


def test_the_form_keeps_who_is_subscribed_to_itself(
    db, admin, anonymous, api_as, smtp_server, mail_settings
):
    world = build_page(db, admin)
    # Without the form's own token (another site posting it) nothing happens.
    refused = anonymous.post("/status/acme/subscribe", data={"email": CUSTOMER})
    assert refused.status_code == 400 and subscriber_count(db) == 0
    invalid = subscribe(anonymous, "acme", "not an address")
    assert invalid.status_code == 422 and "Please enter an email address" in invalid.text

    api_as(admin).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"address": CUSTOMER, "skip_confirmation": True},
    )
    again = subscribe(anonymous, "acme", CUSTOMER.upper())
    assert again.status_code == 200 and "Check your inbox" in again.text
    subscribe(anonymous, "acme", CUSTOMER)  # a second try within minutes mails nothing more
    # Not confirmed yet: the latest choice wins, still one mail.
    subscribe(anonymous, "acme", "dan@customer.example", "API")
    subscribe(anonymous, "acme", "dan@customer.example", "API", "EU")
    run_engine(db, mail_settings)
    [mail] = smtp_server.to(CUSTOMER)
    assert mail["Subject"] == "You are subscribed to Acme Cloud status"
    [confirmation] = smtp_server.to("dan@customer.example")
    assert "Acme Cloud: API" in confirmation.get_content()
    listed = api_as(admin).get(f"/api/v1/status-pages/{world.page_id}/subscribers").json()
    assert [(s["address"], s["components"], s["confirmed_at"] is None) for s in listed] == [
        (CUSTOMER, [], False),
        ("dan@customer.example", ["API", "EU"], True),
    ]


def test_a_webhook_gets_statuspage_json_and_a_failed_send_is_retried_and_shown(
    db, clock, admin, responder, api_as, webhook_receiver, smtp_server, mail_settings
):
    world = build_page(db, admin)
    rita = api_as(responder)
    added = rita.post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"kind": "webhook", "address": webhook_receiver.url, "component_ids": [world.eu]},
    )
    assert added.status_code == 201, added.text
    assert added.json()["confirmed_at"] is not None and added.json()["components"] == ["EU"]

    webhook_receiver.status = 500
    incident = publish(db, responder, world, "EU latency", {world.eu: "degraded_performance"})
    run_engine(db, mail_settings)
    [listed] = rita.get(f"/api/v1/status-pages/{world.page_id}/subscribers").json()
    delivery = listed["last_delivery"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_error"] == "the webhook answered 500"
    with closing(TestClient(rita.app)) as admin_browser:
        browser_login(admin_browser, admin)
        shown = admin_browser.get(f"/status-pages/{world.page_id}/subscribers").text
    # Shown by scheme and host only: a webhook's path often is its token.
    assert redacted(webhook_receiver.url) in shown and "the webhook answered 500" in shown
    assert webhook_receiver.url not in shown

    webhook_receiver.status = 204
    clock.advance(seconds=31)
    run_engine(db, mail_settings)
    [listed] = rita.get(f"/api/v1/status-pages/{world.page_id}/subscribers").json()
    assert listed["last_delivery"]["status"] == "sent"
    _failed, (headers, body) = webhook_receiver.received
    assert headers["Idempotency-Key"]
    assert body["meta"]["unsubscribe"].startswith("http://testserver/status/acme/subscriptions/")
    assert body["page"]["status_indicator"] == "minor"
    assert body["page"]["status_description"] == "Minor Service Outage"
    summary = anonymous_json(rita, "/status/acme/api/v2/summary.json")
    assert body["page"]["id"] == summary["page"]["id"]
    sent = body["incident"]
    assert sent["name"] == "EU latency" and sent["status"] == "investigating"
    assert sent["incident_updates"][0]["body"] == "We are investigating."
    assert sent["incident_updates"][0]["affected_components"][0]["new_status"] == (
        "degraded_performance"
    )
    assert [c["name"] for c in sent["components"]] == ["EU"]

    update(db, responder, world, incident, "resolved", "Fixed.")
    clock.advance(seconds=1)
    run_engine(db, mail_settings)
    assert webhook_receiver.received[-1][1]["incident"]["status"] == "resolved"

    # Only admins remove subscribers.
    assert_error(
        rita.delete(f"/api/v1/status-pages/{world.page_id}/subscribers/{listed['id']}"), 403
    )
    removed = api_as(admin).delete(
        f"/api/v1/status-pages/{world.page_id}/subscribers/{listed['id']}"
    )
    assert removed.status_code == 204 and subscriber_count(db) == 0


def anonymous_json(client: TestClient, path: str) -> dict:
    with closing(TestClient(client.app)) as reader:
        return reader.get(path).json()


def plan_api_maintenance(db, admin, responder, api_as, start, **extra: object) -> tuple[World, int]:
    """Acme Cloud with a customer following the API, and an hour's work on it at `start`."""
    world = build_page(db, admin)
    api_as(admin).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"address": CUSTOMER, "component_ids": [world.api], "skip_confirmation": True},
    )
    with db.begin() as session:
        maintenance = statuspage.create_maintenance(
            session,
            responder,
            world.page_id,
            MaintenanceCreate(
                name="Database upgrade",
                scheduled_for=start,
                scheduled_until=start + timedelta(hours=1),
                component_ids=[world.api],
                body="Planned work.",
                **extra,
            ),
        )
        return world, maintenance.id


def test_maintenance_reminds_subscribers_once_an_hour_before_and_announces_its_start(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    start = clock.current + timedelta(hours=3)
    plan_api_maintenance(db, admin, responder, api_as, start)
    run_engine(db, mail_settings)  # tells that it is scheduled, at once
    runner = EngineRunner(db, [MaintenanceTransitions()])
    name = MaintenanceTransitions.name
    assert runner.run_once(start - timedelta(minutes=61)) == {name: 0}
    assert runner.run_once(start - timedelta(minutes=60)) == {name: 1}
    assert runner.run_once(start - timedelta(minutes=30)) == {name: 0}

    clock.current = start - timedelta(minutes=30)
    run_engine(db, mail_settings)
    [scheduled, reminder] = smtp_server.to(CUSTOMER)
    assert scheduled["Subject"] == "[Acme Cloud] Maintenance scheduled: Database upgrade"
    assert reminder["Subject"] == "[Acme Cloud] Reminder: maintenance starts soon: Database upgrade"
    assert "Mon Mar 02, 12:00 to Mon Mar 02, 13:00 UTC" in reminder.get_content()

    clock.current = start
    run_engine(db, mail_settings)  # starts it (delivery comes before maintenance in a pass)
    run_engine(db, mail_settings)
    assert [m["Subject"] for m in smtp_server.to(CUSTOMER)][2:] == [
        "[Acme Cloud] Maintenance in progress: Database upgrade"
    ]


def test_a_maintenance_started_by_hand_is_announced_by_the_engine(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    world, maintenance_id = plan_api_maintenance(
        db, admin, responder, api_as, clock.current + timedelta(hours=3)
    )
    with db.begin() as session:
        statuspage.post_maintenance_update(
            session,
            responder,
            world.page_id,
            maintenance_id,
            MaintenanceUpdatePost(status="in_progress", body="Starting early."),
        )
    assert outbox(db) == []  # the requests that planned and started it queued nothing
    run_engine(db, mail_settings)
    [scheduled, started] = smtp_server.to(CUSTOMER)
    assert scheduled["Subject"] == "[Acme Cloud] Maintenance scheduled: Database upgrade"
    assert started["Subject"] == "[Acme Cloud] Maintenance in progress: Database upgrade"
    assert "Starting early." in started.get_content()


def subjects(smtp_server) -> list[str]:
    return [m["Subject"].removeprefix("[Acme Cloud] ") for m in smtp_server.to(CUSTOMER)]


def test_subscribers_hear_at_once_that_maintenance_is_scheduled_and_later_that_it_completed(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    """Statuspage's habit: a notice when it is scheduled (not only an hour before), one at
    its start and one at its end; each once, however often the engine runs."""
    start = clock.current + timedelta(days=2)
    plan_api_maintenance(db, admin, responder, api_as, start)
    assert outbox(db) == []  # the request that planned it queued nothing itself
    run_engine(db, mail_settings)
    run_engine(db, mail_settings)
    assert subjects(smtp_server) == ["Maintenance scheduled: Database upgrade"]
    [scheduled] = smtp_server.to(CUSTOMER)
    assert "Planned work." in scheduled.get_content()
    assert "Wed Mar 04, 09:00 to Wed Mar 04, 10:00 UTC" in scheduled.get_content()
    assert "Components it concerns: API" in scheduled.get_content()

    for moment in (start - timedelta(minutes=59), start, start + timedelta(hours=1)):
        clock.current = moment
        for _ in range(3):  # delivery runs before the maintenance moves in one pass
            run_engine(db, mail_settings)
    assert subjects(smtp_server) == [
        "Maintenance scheduled: Database upgrade",
        "Reminder: maintenance starts soon: Database upgrade",
        "Maintenance in progress: Database upgrade",
        "Maintenance completed: Database upgrade",
    ]
    completed = smtp_server.to(CUSTOMER)[-1].get_content()
    assert "The scheduled maintenance has been completed." in completed
    assert "Components it concerned: API" in completed
    clock.advance(hours=2)
    run_engine(db, mail_settings)
    assert len(smtp_server.to(CUSTOMER)) == 4
    assert len({n.idempotency_key for n in outbox(db)}) == len(outbox(db)) == 4


def test_maintenance_planned_within_the_hour_is_announced_once_not_reminded_too(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    plan_api_maintenance(db, admin, responder, api_as, clock.current + timedelta(minutes=30))
    run_engine(db, mail_settings)
    run_engine(db, mail_settings)
    assert subjects(smtp_server) == ["Maintenance scheduled: Database upgrade"]


def test_maintenance_planned_without_notify_is_not_announced_but_still_reminds(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    start = clock.current + timedelta(hours=3)
    plan_api_maintenance(db, admin, responder, api_as, start, notify=False)
    run_engine(db, mail_settings)
    assert smtp_server.to(CUSTOMER) == [] and outbox(db) == []
    clock.current = start - timedelta(minutes=30)
    run_engine(db, mail_settings)
    run_engine(db, mail_settings)
    assert subjects(smtp_server) == ["Reminder: maintenance starts soon: Database upgrade"]


def test_maintenance_called_off_before_it_starts_is_announced_as_completed(
    db, clock, admin, responder, api_as, smtp_server, mail_settings
):
    world, maintenance_id = plan_api_maintenance(
        db, admin, responder, api_as, clock.current + timedelta(days=1)
    )
    run_engine(db, mail_settings)
    with db.begin() as session:
        statuspage.post_maintenance_update(
            session,
            responder,
            world.page_id,
            maintenance_id,
            MaintenanceUpdatePost(status="completed", body="Called off: not needed after all."),
        )
    run_engine(db, mail_settings)
    run_engine(db, mail_settings)
    assert subjects(smtp_server) == [
        "Maintenance scheduled: Database upgrade",
        "Maintenance completed: Database upgrade",
    ]
    assert "Called off: not needed after all." in smtp_server.to(CUSTOMER)[-1].get_content()


def test_a_webhook_hears_each_update_as_it_was_posted(
    db, admin, responder, api_as, webhook_receiver, mail_settings
):
    """The engine may run after later updates (busy, or down for a minute): each webhook
    still describes the page as it stood right after its own update."""
    world = build_page(db, admin)
    api_as(responder).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"kind": "webhook", "address": webhook_receiver.url},
    )
    incident = publish(db, responder, world, "API errors", {world.api: "major_outage"})
    update(db, responder, world, incident, "resolved", "Fixed.", {world.api: "operational"})
    run_engine(db, mail_settings)
    sent = sorted(
        (body for _headers, body in webhook_receiver.received),
        key=lambda body: len(body["incident"]["incident_updates"]),
    )
    assert [b["incident"]["status"] for b in sent] == ["investigating", "resolved"]
    assert [b["page"]["status_indicator"] for b in sent] == ["critical", "none"]


def test_one_update_that_cannot_be_told_holds_up_no_other(
    db, clock, admin, responder, api_as, smtp_server, mail_settings, monkeypatch
):
    world = build_page(db, admin)
    api_as(admin).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"address": CUSTOMER, "skip_confirmation": True},
    )
    broken = publish(db, responder, world, "Broken one")
    publish(db, responder, world, "Fine one")
    real = subscribers.incident_updated

    def failing(session, page, incident, update, at=None):
        if incident.id == broken:
            raise RuntimeError("cannot tell this one")
        return real(session, page, incident, update, at)

    monkeypatch.setattr(subscribers, "incident_updated", failing)
    engine = EngineRunner(db, [SubscriberUpdates()])
    assert engine.run_once() == {"subscriber_updates": 1}  # the fine one; the broken one waits
    assert [m.title for m in outbox(db)] == ["[Acme Cloud] Fine one: Investigating"]
    assert engine.run_once(clock.advance(seconds=30)) == {"subscriber_updates": 0}

    monkeypatch.setattr(subscribers, "incident_updated", real)
    assert engine.run_once(clock.advance(seconds=31)) == {"subscriber_updates": 1}  # retried
    assert len(outbox(db)) == 2


def test_a_page_with_a_long_name_still_tells_its_subscribers(
    db, admin, responder, api_as, smtp_server, mail_settings
):
    world = build_page(db, admin)
    long_name = "Acme " + "x" * 115  # the longest name a page may have
    renamed = api_as(admin).patch(f"/api/v1/status-pages/{world.page_id}", json={"name": long_name})
    assert renamed.status_code == 200, renamed.text
    api_as(admin).post(
        f"/api/v1/status-pages/{world.page_id}/subscribers",
        json={"address": CUSTOMER, "skip_confirmation": True},
    )
    publish(db, responder, world, "API errors")
    run_engine(db, mail_settings)
    [mail] = smtp_server.to(CUSTOMER)
    assert mail["Subject"].startswith(f"[{long_name}] API errors")


def test_only_logged_in_people_subscribe_to_a_private_page(
    db, app, admin, viewer, responder, anonymous, api_as, smtp_server, mail_settings
):
    world = build_page(db, admin, slug="internal", public=False)
    browser = {"accept": "text/html"}
    shown = anonymous.get("/status/internal/subscribe", headers=browser)
    assert shown.status_code == 303 and shown.headers["location"].startswith("/login")
    posted = anonymous.post("/status/internal/subscribe", data={"email": CUSTOMER}, headers=browser)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    assert_error(anonymous.post("/status/internal/subscribe", data={"email": CUSTOMER}), 401)
    assert subscriber_count(db) == 0

    with closing(TestClient(app, follow_redirects=False)) as staff:
        browser_login(staff, viewer)
        answer = subscribe(staff, "internal", viewer.email)
        assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert subscriber_count(db) == 1

    vic = api_as(viewer)
    page = f"/api/v1/status-pages/{world.page_id}/subscribers"
    assert_error(vic.post(page, json={"address": "x@example.com"}), 403)
    assert_error(vic.get(page), 403)
    rita = api_as(responder)
    assert_error(rita.post(page, json={"kind": "webhook", "address": "ftp://x"}), 422)
    assert_error(rita.post(page, json={"address": "a@b.example", "component_ids": [10**9]}), 422)
    assert rita.post(page, json={"address": "a@b.example"}).status_code == 201
    assert_error(rita.post(page, json={"address": "A@b.example"}), 409)
    run_engine(db, mail_settings)
    assert len(smtp_server.to("a@b.example")) == 1  # asked to confirm


def test_the_form_mails_an_address_at_most_three_times_a_day(db, admin, clock):
    """A stranger sending the form over and over cannot flood someone's inbox."""
    world = build_page(db, admin)

    def send_the_form() -> None:
        with db.begin() as session:
            page = session.get(StatusPage, world.page_id)
            subscribers.subscribe(session, page, "victim@example.com", [])

    for _ in range(8):
        send_the_form()
        clock.advance(minutes=11)
    assert len(outbox(db)) == 3
    clock.advance(days=1)
    send_the_form()
    assert len(outbox(db)) == 4


def outbox(db) -> list[Notification]:
    with db.begin() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_telling_many_subscribers_takes_a_few_statements_not_one_per_subscriber(
    db, admin, responder
):
    """Posting an update queues nothing itself; the engine then tells a big page's
    subscribers in a few statements, not one per subscriber (5,000 took half a minute one by
    one)."""
    world = build_page(db, admin)

    def statements_to_tell(subscriber_count: int, name: str) -> int:
        with db.begin() as session:
            for n in range(subscriber_count):
                session.add(
                    Subscriber(
                        page_id=world.page_id,
                        kind="email",
                        address=f"{name}{n}@customer.example",
                        confirmed_at=now(),
                    )
                )
            session.commit()
        queued = len(outbox(db))
        publish(db, responder, world, name, {world.api: "major_outage"})
        assert len(outbox(db)) == queued  # the request that posted it queued nothing
        counted = []
        listen = event.listens_for(db.engine, "before_cursor_execute")
        counter = listen(lambda *args: counted.append(1))
        try:
            assert SubscriberUpdates().run_due(db, now()) == 1
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert SubscriberUpdates().run_due(db, now()) == 0  # told once
        return len(counted)

    few = statements_to_tell(3, "few")
    many = statements_to_tell(60, "many")
    assert many <= few + 2
    mails = outbox(db)
    assert len(mails) == 3 + 63
    with db.begin() as session:
        told = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        assert {s.last_notification_id for s in told} == {m.id for m in mails[3:]}
    links = {re.search(r"subscriptions/(\S+)/unsubscribe", m.body).group(1) for m in mails}
    assert len(links) == len(mails)  # each mail its own link


def test_several_workers_tell_each_subscriber_once(db, admin, responder):
    postgres_only(db)
    world = build_page(db, admin)
    with db.begin() as session:
        for n in range(200):
            address = f"reader{n}@customer.example"
            session.add(
                Subscriber(page_id=world.page_id, kind="email", address=address, confirmed_at=now())
            )
        session.commit()
    for n in range(6):
        publish(db, responder, world, f"Outage {n}", {world.api: "major_outage"})
    start = threading.Barrier(4)

    def worker() -> int:
        start.wait()
        return SubscriberUpdates().run_due(db, now())

    with ThreadPoolExecutor(max_workers=4) as pool:
        told = sum(pool.map(lambda _: worker(), range(4)))
    assert told == 6  # each update claimed by one worker
    mails = outbox(db)
    assert len(mails) == 6 * 200
    assert len({(m.address, m.title) for m in mails}) == len(mails)


def test_a_double_tap_on_subscribe_is_no_error(db, admin, monkeypatch):
    """Two sends of the form at the same moment: the second finds the first's row only when
    it inserts its own; it answers as usual, and one confirmation mail goes out."""
    world = build_page(db, admin)
    with db.begin() as session:
        subscribers.subscribe(session, session.get(StatusPage, world.page_id), CUSTOMER, [])
    monkeypatch.setattr(subscribers, "_existing", lambda *_args: None)  # not seen yet
    with db.begin() as session:
        subscribers.subscribe(session, session.get(StatusPage, world.page_id), CUSTOMER, [])
    assert subscriber_count(db) == 1 and len(outbox(db)) == 1


def test_a_new_subscriber_is_mailed_even_when_it_reuses_a_gone_ones_id(db, admin):
    """SQLite gives the last deleted row's id to the next row: keys must not collide."""
    world = build_page(db, admin)
    with db.begin() as session:
        subscribers.subscribe(session, session.get(StatusPage, world.page_id), CUSTOMER, [])
    with db.begin() as session:
        (gone,) = session.scalars(select(Subscriber)).all()
        subscribers.remove_subscriber(session, admin, world.page_id, gone.id)
    with db.begin() as session:
        page = session.get(StatusPage, world.page_id)
        subscribers.subscribe(session, page, "dan@customer.example", [])
    assert [m.address for m in outbox(db)] == [CUSTOMER, "dan@customer.example"]
