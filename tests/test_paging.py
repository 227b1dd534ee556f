"""Paging people: the incident manager pages someone; the notifications go out through the
outbox to a real SMTP server and a webhook, are retried when refused, and one tap stops it."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
import pytest

from tests.alerting import run_engine
from tests.conftest import assert_error
from tests.live_server import live_server  # noqa: F401  (fixture)
from tocsin.auth.models import Role
from tocsin.config import Settings
from tocsin.db import now
from tocsin.engine.delivery import Deliveries
from tocsin.engine.escalation import EscalationSteps
from tocsin.paging import service as paging


@pytest.fixture
def settings_for(db):
    def make(mailbox) -> Settings:
        return Settings(database_url=db.url, base_url="http://tocsin.test", smtp_url=mailbox.url)

    return make


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


def declare(api, **fields):
    body = {"summary": "Checkout fails for EU customers", "severity": "SEV1", **fields}
    return api.post("/api/v1/incidents", json=body).json()


def timeline(api, key):
    return [e["message"] for e in api.get(f"/api/v1/incidents/{key}/timeline").json()]


def link_in(message, action: str) -> str:
    found = re.search(rf"{action}: (\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_the_incident_manager_pages_someone_who_acknowledges_with_one_tap(
    db,
    clock,
    rita,
    api_as,
    make_user,
    smtp_server,
    settings_for,
    client,
):
    bob = make_user(Role.RESPONDER, name="Bob Builder", email="bob@example.com")
    incident = declare(rita)
    page = rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={
            "targets": [{"kind": "user", "id": bob.id}],
            "message": "DB primary is at 100% CPU, need you",
        },
    )
    assert page.status_code == 201, page.text
    assert page.json()["status"] == "active"

    handled = run_engine(db, settings_for(smtp_server))
    assert handled["escalation"] == 1 and handled["delivery"] == 1
    [mail] = smtp_server.to("bob@example.com")
    assert mail["Subject"] == "[SEV1] INC-1 Checkout fails for EU customers"
    text = mail.get_content()
    assert "Paged by: Rita Responder" in text and "DB primary is at 100% CPU" in text
    assert "Open: http://tocsin.test/incidents/INC-1" in text
    assert "Resolve:" not in text  # an incident is resolved with words, not one tap

    acknowledge = link_in(mail, "Acknowledge").replace("http://tocsin.test", "")
    confirm = client.get(acknowledge, headers={"accept": "text/html"})
    assert confirm.status_code == 200 and "Acknowledge: I am on it" in confirm.text
    assert rita.get(f"/api/v1/incidents/{incident['key']}/pages").json()[0]["status"] == "active"
    done = client.post(acknowledge, headers={"accept": "text/html"})
    assert done.status_code == 200 and "Paging has stopped" in done.text
    assert (
        rita.get(f"/api/v1/incidents/{incident['key']}/pages").json()[0]["status"] == "acknowledged"
    )
    assert "Paging stopped: acknowledged by Bob Builder" in timeline(rita, incident["key"])
    again = client.post(acknowledge, headers={"accept": "text/html"})
    assert again.status_code == 409
    assert "This link was used already, and it works once." in again.text
    assert "Paging for INC-1 was acknowledged by Bob Builder." in again.text

    # Nothing more is sent: the page is over.
    clock.advance(minutes=30)
    run_engine(db, settings_for(smtp_server))
    assert len(smtp_server.to("bob@example.com")) == 1


def test_notification_rules_fire_in_turn_until_acknowledged(
    db,
    clock,
    rita,
    api_as,
    make_user,
    smtp_server,
    webhook_receiver,
    settings_for,
    client,
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    as_bob = api_as(bob)
    mail = as_bob.post(
        "/api/v1/me/contact-methods",
        json={"channel": "email", "address": "bob@example.com", "label": "mail"},
    ).json()
    hook = as_bob.post(
        "/api/v1/me/contact-methods",
        json={"channel": "webhook", "address": webhook_receiver.url, "label": "pager app"},
    ).json()
    rules = as_bob.put(
        "/api/v1/me/notification-rules",
        json={
            "rules": [
                {"contact_method_id": mail["id"], "delay_minutes": 0},
                {"contact_method_id": hook["id"], "delay_minutes": 2},
            ]
        },
    )
    assert [r["delay_minutes"] for r in rules.json()] == [0, 2]
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )

    run_engine(db, settings_for(smtp_server))
    assert len(smtp_server.to("bob@example.com")) == 1 and webhook_receiver.received == []
    clock.advance(minutes=2)
    run_engine(db, settings_for(smtp_server))
    [(headers, body)] = webhook_receiver.received
    assert body["subject"] == incident["key"] and body["severity"] == "SEV1"
    assert headers["Idempotency-Key"] == body["idempotency_key"]

    # The page repeats once after five minutes; Bob acknowledging first cancels the rest.
    [mail] = smtp_server.to("bob@example.com")
    acknowledged = client.post(link_in(mail, "Acknowledge").replace("http://tocsin.test", ""))
    assert acknowledged.status_code == 200
    clock.advance(minutes=10)
    run_engine(db, settings_for(smtp_server))
    assert len(smtp_server.to("bob@example.com")) == 1 and len(webhook_receiver.received) == 1


def test_answering_one_page_leaves_the_incident_managers_other_pages_going(
    db, clock, rita, api_as, make_user, smtp_server, settings_for, client
):
    """Rita pages Bob, then asks Maya for help by name. Bob acknowledging his page, and Rita
    moving the incident to fixing, must not withdraw the request to Maya."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    maya = make_user(Role.RESPONDER, name="Maya", email="maya@example.com")
    incident = declare(rita)
    key = incident["key"]
    to_bob = rita.post(
        f"/api/v1/incidents/{key}/pages", json={"targets": [{"kind": "user", "id": bob.id}]}
    )
    run_engine(db, settings_for(smtp_server))
    [bobs_mail] = smtp_server.to("bob@example.com")
    to_maya = rita.post(
        f"/api/v1/incidents/{key}/pages",
        json={"targets": [{"kind": "user", "id": maya.id}], "message": "Need DB eyes"},
    )

    client.post(link_in(bobs_mail, "Acknowledge").replace("http://tocsin.test", ""))
    rita.post(f"/api/v1/incidents/{key}/status", json={"status": "fixing"})
    pages = {p["id"]: p["status"] for p in rita.get(f"/api/v1/incidents/{key}/pages").json()}
    assert pages == {to_bob.json()["id"]: "acknowledged", to_maya.json()["id"]: "active"}
    run_engine(db, settings_for(smtp_server))
    [mayas_mail] = smtp_server.to("maya@example.com")
    assert "Need DB eyes" in mayas_mail.get_content()

    # Resolving the incident stops every page about it.
    rita.post(
        f"/api/v1/incidents/{key}/status",
        json={"status": "resolved", "resolution_summary": "Fixed"},
    )
    statuses = {p["status"] for p in rita.get(f"/api/v1/incidents/{key}/pages").json()}
    assert statuses == {"acknowledged", "resolved"}


def test_a_refusing_mail_server_is_retried_and_the_failure_is_visible(
    db,
    clock,
    rita,
    api_as,
    make_user,
    smtp_server,
    settings_for,
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    smtp_server.refusing = True
    run_engine(db, settings_for(smtp_server))
    [mine] = api_as(bob).get("/api/v1/me/notifications").json()["items"]
    assert mine["status"] == "pending" and mine["attempts"] == 1
    assert "451" in mine["last_error"]
    assert any(
        m.startswith("Notifying Bob by account email failed (attempt 1)")
        for m in timeline(rita, incident["key"])
    )
    # The incident's Paging card never says Bob was reached while nothing got to him.
    card = rita.get(f"/incidents/{incident['key']}").text
    assert "Not reached: Bob." in card and "· reached Bob" not in card

    clock.advance(seconds=10)
    run_engine(db, settings_for(smtp_server))
    assert (
        api_as(bob).get("/api/v1/me/notifications").json()["items"][0]["attempts"] == 1
    )  # not due yet
    clock.advance(seconds=25)
    run_engine(db, settings_for(smtp_server))
    assert api_as(bob).get("/api/v1/me/notifications").json()["items"][0]["attempts"] == 2

    smtp_server.refusing = False
    clock.advance(minutes=2)
    run_engine(db, settings_for(smtp_server))
    [sent] = api_as(bob).get("/api/v1/me/notifications").json()["items"]
    assert sent["status"] == "sent" and sent["attempts"] == 3
    assert len(smtp_server.to("bob@example.com")) == 1
    assert "Notified Bob by account email" in timeline(rita, incident["key"])
    # The first failure and the outcome are on the timeline, not every retry between.
    failures = [m for m in timeline(rita, incident["key"]) if m.startswith("Notifying Bob")]
    assert len(failures) == 1
    card = rita.get(f"/incidents/{incident['key']}").text
    assert "· reached Bob" in card and "Not reached" not in card


def test_only_the_incident_manager_pages_and_targets_must_exist(rita, api_as, make_user, viewer):
    incident = declare(rita)
    other = api_as(make_user(Role.RESPONDER))
    body = {"targets": [{"kind": "user", "id": viewer.id}]}
    assert_error(other.post(f"/api/v1/incidents/{incident['key']}/pages", json=body), 403)
    missing = {"targets": [{"kind": "team", "id": 999}]}
    assert_error(
        rita.post(f"/api/v1/incidents/{incident['key']}/pages", json=missing), 422, field="targets"
    )
    assert_error(rita.post(f"/api/v1/incidents/{incident['key']}/pages", json={"targets": []}), 422)
    assert rita.get(f"/api/v1/incidents/{incident['key']}/pages").json() == []


def test_contact_methods_are_checked_and_private(api_as, responder, make_user):
    mine = api_as(responder)
    assert_error(
        mine.post("/api/v1/me/contact-methods", json={"channel": "email", "address": "not mail"}),
        422,
    )
    assert_error(
        mine.post("/api/v1/me/contact-methods", json={"channel": "webhook", "address": "ftp://x"}),
        422,
    )
    ntfy = mine.post(
        "/api/v1/me/contact-methods", json={"channel": "apprise", "address": "ntfy://tocsin-rita"}
    )
    assert ntfy.status_code == 201
    other = api_as(make_user(Role.RESPONDER))
    assert_error(other.delete(f"/api/v1/me/contact-methods/{ntfy.json()['id']}"), 404)
    assert_error(
        other.put(
            "/api/v1/me/notification-rules",
            json={"rules": [{"contact_method_id": ntfy.json()["id"]}]},
        ),
        422,
        field="contact_method_id",
    )


def test_a_one_click_link_works_over_the_wire_without_a_login(
    live_server,  # noqa: F811
    db,
    clock,
    rita,
    make_user,
    smtp_server,
    settings_for,
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    run_engine(db, settings_for(smtp_server))
    path = link_in(smtp_server.to("bob@example.com")[0], "Acknowledge").replace(
        "http://tocsin.test", ""
    )
    with httpx2.Client(base_url=live_server.url) as anonymous:
        assert anonymous.get(path).status_code == 200
        assert anonymous.post(path).status_code == 200
        assert anonymous.post(path).status_code == 409
        assert anonymous.post("/respond/act_0123456789abcdef_forged").status_code == 404
    assert rita.get(f"/api/v1/incidents/{incident['key']}").json()["status"] == "open"
    assert (
        rita.get(f"/api/v1/incidents/{incident['key']}/pages").json()[0]["status"] == "acknowledged"
    )


def test_the_incident_page_pages_someone_and_shows_the_escalation(app, db, responder, make_user):
    from fastapi.testclient import TestClient

    from tests.conftest import browser_login

    bob = make_user(Role.RESPONDER, name="Bob Builder")
    with TestClient(app) as browser:
        csrf = browser_login(browser, responder)
        declared = browser.post(
            "/incidents/new",
            data={"csrf_token": csrf, "summary": "Queue stuck", "severity": "SEV2"},
            follow_redirects=False,
        )
        key = declared.headers["location"].rsplit("/", 1)[1]
        paged = browser.post(
            f"/incidents/{key}/page",
            data={"csrf_token": csrf, "user_ids": str(bob.id), "message": "need the queue expert"},
        )
        assert paged.status_code == 200 and "Paging started." in paged.text
        assert "Rita Responder started paging: Bob Builder" in paged.text
        assert "need the queue expert" in paged.text
        assert "paging now" in paged.text and "Pages Bob Builder" in paged.text
        # The first level fires; while its mail is being sent, Bob is not "not reached".
        settings = Settings(database_url=db.url, base_url="http://testserver")
        EscalationSteps(settings).run_due(db, now())
        with db.begin() as session:
            assert len(paging.claim_deliveries(session, now(), 10)) == 1
            session.commit()
        card = browser.get(f"/incidents/{key}").text
        assert "sending to Bob Builder" in card and "Not reached" not in card
        run_engine(db, at=now() + timedelta(minutes=3))  # no mail server here: it fails
        card = browser.get(f"/incidents/{key}").text
        assert "Not reached: Bob Builder. Every message to them so far failed" in card
        assert "· reached Bob Builder" not in card
        page_id = browser.get(
            f"/api/v1/incidents/{key}/pages", headers={"X-CSRF-Token": csrf}
        ).json()[0]["id"]
        escalated = browser.post(
            f"/incidents/{key}/pages/{page_id}/escalate", data={"csrf_token": csrf}
        )
        assert "The next level is paged now." in escalated.text


def test_the_incident_manager_is_told_when_every_linked_alert_resolves(
    db, client, rita, api_as, admin, responder, smtp_server, settings_for
):
    from tests.alerting import make_integration

    ada = api_as(admin)
    key = make_integration(ada, "pagerduty")["key"]
    incident = declare(rita, severity="SEV2")

    def send(action: str) -> None:
        body = {"routing_key": key, "event_action": action, "dedup_key": "db-1"}
        if action == "trigger":
            body["payload"] = {"summary": "db-1 down", "source": "probe", "severity": "error"}
        assert client.post("/v2/enqueue", json=body).status_code == 202

    send("trigger")
    alert_id = ada.get("/api/v1/alerts").json()["items"][0]["id"]
    rita.post(f"/api/v1/alerts/{alert_id}/attach", json={"incident_key": incident["key"]})
    send("resolve")
    run_engine(db, settings_for(smtp_server))
    [told] = smtp_server.to(responder.email)
    assert told["Subject"] == f"{incident['key']}: every linked alert is resolved"
    assert "stays open until you resolve it" in told.get_content()


def test_a_claim_overtaken_after_its_lease_ran_out_sends_nothing(
    db, clock, rita, make_user, smtp_server, settings_for
):
    """A worker that stalled past its lease must not send what another worker reclaimed."""

    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": bob.id}]},
    )
    settings = settings_for(smtp_server)
    deliveries = Deliveries(settings)
    EscalationSteps(settings).run_due(db, clock.current)
    claimed_at = clock.current
    with db.begin() as session:
        [stalled] = paging.claim_deliveries(session, claimed_at, 10, deliveries.lease)
        session.commit()

    clock.advance(seconds=settings.delivery_lease_seconds + 1)
    assert deliveries.run_due(db, clock.current) == 1  # another worker takes it over and sends
    deliveries._deliver(db, stalled, claimed_at)  # the stalled worker wakes up
    assert len(smtp_server.to("bob@example.com")) == 1


def test_many_notifications_go_out_together_each_once(
    db, rita, make_user, smtp_server, settings_for
):
    people = [
        make_user(Role.RESPONDER, name=f"Person {n}", email=f"p{n}@example.com") for n in range(12)
    ]
    incident = declare(rita)
    rita.post(
        f"/api/v1/incidents/{incident['key']}/pages",
        json={"targets": [{"kind": "user", "id": p.id} for p in people]},
    )
    handled = run_engine(db, settings_for(smtp_server))
    assert handled["delivery"] == 12
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(p.email for p in people)
    sent = [m for m in timeline(rita, incident["key"]) if m.startswith("Notified Person")]
    assert len(sent) == 12


def test_one_addresses_messages_arrive_in_the_order_they_were_queued(db, smtp_server, settings_for):
    """Sends run side by side, but "Resolved" never overtakes "Identified" for one reader."""
    readers = ("ana@example.com", "ben@example.com", "cy@example.com")
    with db.begin() as session:
        for n in range(6):
            for reader in readers:
                paging.queue(
                    session,
                    idempotency_key=f"order:{reader}:{n}",
                    purpose="subscriber",
                    channel="email",
                    address=reader,
                    title=f"Update {n}",
                    body=f"Update {n} of the outage.",
                )
        session.commit()
    assert Deliveries(settings_for(smtp_server)).run_due(db, now()) == 18
    for reader in readers:
        assert [m["Subject"] for m in smtp_server.to(reader)] == [f"Update {n}" for n in range(6)]


def test_a_handover_request_reaches_the_person_asked(
    db, rita, make_user, smtp_server, settings_for
):
    """Journey 2: at shift end the incident manager asks Bob to take over; Bob may not be
    looking at Tocsin, so he is told through his contact methods."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    key = declare(rita)["key"]
    asked = rita.post(
        f"/api/v1/incidents/{key}/handover", json={"to_user_id": bob.id, "note": "shift ends"}
    )
    assert asked.status_code == 200, asked.text
    run_engine(db, settings_for(smtp_server))
    [mail] = smtp_server.to("bob@example.com")
    assert mail["Subject"] == f"[SEV1] {key}: Rita Responder asks you to take over"
    text = mail.get_content()
    assert "Their note: shift ends" in text
    assert f"http://testserver/incidents/{key}" in text


def test_a_test_message_checks_a_contact_method_before_it_matters(
    db, api_as, make_user, smtp_server, webhook_receiver, settings_for, client
):
    """An explorer's Apprise address had a typo that only a real page would have shown."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    as_bob = api_as(bob)
    hook = as_bob.post(
        "/api/v1/me/contact-methods",
        json={"channel": "webhook", "address": webhook_receiver.url, "label": "pager app"},
    ).json()
    typo = {"channel": "apprise", "address": "zzz://whatever", "label": "typo"}
    assert_error(as_bob.post("/api/v1/me/contact-methods", json=typo), 422)
    # Well-formed, but nothing listens there: only a test shows it.
    broken = as_bob.post(
        "/api/v1/me/contact-methods",
        json={"channel": "apprise", "address": "json://127.0.0.1:9/", "label": "typo"},
    ).json()
    for method in (hook, broken):
        sent = as_bob.post(f"/api/v1/me/contact-methods/{method['id']}/test")
        assert sent.status_code == 202 and sent.json()["status"] == "pending"
    run_engine(db, settings_for(smtp_server))

    [(_headers, body)] = webhook_receiver.received
    assert body["title"] == "Tocsin test: this is how a page reaches you"
    tests = {n["label"]: n for n in as_bob.get("/api/v1/me/notifications").json()["items"]}
    assert tests["pager app"]["status"] == "sent"
    assert tests["typo"]["status"] == "pending" and tests["typo"]["last_error"]

    # Only your own methods.
    someone = api_as(make_user(Role.RESPONDER, name="Eve"))
    assert_error(someone.post(f"/api/v1/me/contact-methods/{hook['id']}/test"), 404)


def test_your_notifications_are_paged_with_a_cursor_like_every_list(api_as, make_user):
    as_bob = api_as(make_user(Role.RESPONDER, name="Bob", email="bob@example.com"))
    method = as_bob.post(
        "/api/v1/me/contact-methods", json={"channel": "email", "address": "bob@example.com"}
    ).json()
    for _ in range(5):
        assert as_bob.post(f"/api/v1/me/contact-methods/{method['id']}/test").status_code == 202
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = as_bob.get("/api/v1/me/notifications", params=params).json()
        seen += [n["id"] for n in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and seen == sorted(seen, reverse=True)
    assert as_bob.get("/api/v1/me/notifications").json()["next_cursor"] is None  # 50 a page
    assert_error(
        as_bob.get("/api/v1/me/notifications", params={"cursor": "x"}), 422, field="cursor"
    )
    assert_error(as_bob.get("/api/v1/me/notifications", params={"limit": 201}), 422, field="limit")
    someone = api_as(make_user(Role.RESPONDER, name="Eve"))
    assert someone.get("/api/v1/me/notifications").json() == {"items": [], "next_cursor": None}


def test_a_page_to_a_team_deleted_since_does_not_hold_up_other_pages(
    db, clock, rita, api_as, admin, make_user, smtp_server, settings_for
):
    """Found by fuzzing: deleting a team that a page targets made every escalation step
    fail, because the failing page led every batch."""
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    ada = api_as(admin)
    team = ada.post("/api/v1/teams", json={"name": "Databases"}).json()
    ada.post(f"/api/v1/teams/{team['id']}/members", json={"user_id": bob.id})
    key = declare(rita)["key"]
    to_team = rita.post(
        f"/api/v1/incidents/{key}/pages", json={"targets": [{"kind": "team", "id": team["id"]}]}
    )
    assert to_team.status_code == 201, to_team.text
    assert ada.delete(f"/api/v1/teams/{team['id']}").status_code == 204
    other = declare(rita, summary="Search is slow", severity="SEV2")["key"]
    rita.post(
        f"/api/v1/incidents/{other}/pages", json={"targets": [{"kind": "user", "id": bob.id}]}
    )

    handled = run_engine(db, settings_for(smtp_server))
    assert handled["escalation"] == 2
    [mail] = smtp_server.to("bob@example.com")
    assert "Search is slow" in mail["Subject"]
    assert any("Nobody" in m or "nobody" in m for m in timeline(rita, key))


def test_one_page_whose_step_fails_is_retried_while_the_others_fire(
    db, clock, rita, api_as, make_user, smtp_server, settings_for, monkeypatch
):
    bob = make_user(Role.RESPONDER, name="Bob", email="bob@example.com")
    broken = declare(rita, summary="Broken one")["key"]
    fine = declare(rita, summary="Fine one")["key"]
    for key in (broken, fine):
        page = {"targets": [{"kind": "user", "id": bob.id}]}
        rita.post(f"/api/v1/incidents/{key}/pages", json=page)
    real = paging.run_step

    def failing(session, page, at, base_url):
        if page.subject_key == broken:
            raise RuntimeError("cannot step this one")
        return real(session, page, at, base_url)

    def queued_for_bob() -> list[str]:
        titles = [n["title"] for n in api_as(bob).get("/api/v1/me/notifications").json()["items"]]
        return sorted("Broken" if "Broken" in t else "Fine" for t in titles)

    monkeypatch.setattr(paging, "run_step", failing)
    steps = EscalationSteps(settings_for(smtp_server))
    steps.run_due(db, clock.current)
    assert queued_for_bob() == ["Fine"]
    monkeypatch.setattr(paging, "run_step", real)
    steps.run_due(db, clock.advance(seconds=30))  # not yet: it was set aside for a minute
    assert queued_for_bob() == ["Fine"]
    steps.run_due(db, clock.advance(seconds=31))
    assert queued_for_bob() == ["Broken", "Fine"]


def test_without_a_mail_server_the_settings_say_email_cannot_arrive(db, responder):
    from fastapi.testclient import TestClient

    from tests.conftest import browser_login
    from tocsin.app import create_app

    without = Settings(database_url=db.url, run_engine=False, base_url="http://testserver")
    with TestClient(create_app(without, db)) as browser:
        csrf = browser_login(browser, responder)
        page = browser.get("/settings/notifications").text
        assert "Email cannot reach you here" in page
        browser.post(
            "/settings/notifications/methods",
            data={"csrf_token": csrf, "channel": "email", "address": "me@example.com"},
        )
        listed = browser.get("/settings/notifications").text
        method_id = re.search(r"/settings/notifications/methods/(\d+)/test", listed).group(1)
        tested = browser.post(
            f"/settings/notifications/methods/{method_id}/test", data={"csrf_token": csrf}
        )
        assert "no mail server set up (TOCSIN_SMTP_URL), so it cannot arrive" in tested.text

    with_mail = without.model_copy(update={"smtp_url": "smtp://127.0.0.1:2525"})
    with TestClient(create_app(with_mail, db)) as browser:
        browser_login(browser, responder)
        assert "Email cannot reach you here" not in browser.get("/settings/notifications").text
