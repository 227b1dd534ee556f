"""A hostile visitor and the public subscribe form: sends are limited per client and per page
(429 with Retry-After, readable in a browser, JSON for a script), and housekeeping forgets
subscribers who never confirmed and mailed links past their age."""

from __future__ import annotations

from contextlib import closing

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import assert_error
from tests.statuspage_world import build_page
from tests.test_statuspage_subscribers import form_token
from tocsin.app import create_app
from tocsin.config import Settings
from tocsin.db import now
from tocsin.engine.housekeeping import StaleSubscriptions
from tocsin.paging.models import Notification
from tocsin.statuspage import subscribers
from tocsin.statuspage.form_guard import client_place
from tocsin.statuspage.models import FormSendCount, StatusPage, Subscriber, SubscriberLink

HTML = {"Accept": "text/html,application/xhtml+xml"}


def visitor(app, address: str = "203.0.113.7") -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 40000), headers=HTML)


def send_form(browser: TestClient, email: str, slug: str = "acme", **headers: str):
    form = browser.get(f"/status/{slug}/subscribe")
    assert form.status_code == 200
    return browser.post(
        f"/status/{slug}/subscribe",
        data={"email": email, "csrf_token": form_token(form.text)},
        headers=headers,
    )


def mails(db) -> int:
    with db.begin() as session:
        return session.scalar(select(func.count()).select_from(Notification))


def test_one_client_may_send_the_form_five_times_in_ten_minutes(db, admin, app, clock):
    build_page(db, admin)
    with closing(visitor(app)) as stranger:
        for n in range(5):
            sent = send_form(stranger, f"victim{n}@example.com")
            assert sent.status_code == 200 and "Check your inbox" in sent.text
            clock.advance(seconds=20)
        # The sixth, to yet another address: a page that says why and when, and no mail.
        refused = send_form(stranger, "victim6@example.com")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == 10 * 60 - 5 * 20
        assert "Too many subscription requests" in refused.text
        assert "try again in 9 minutes" in refused.text
        assert 'value="victim6@example.com"' in refused.text  # what was typed stays
        # A script asking for JSON gets the one error shape.
        scripted = send_form(stranger, "victim7@example.com", Accept="application/json")
        assert_error(scripted, 429, code="too_many_attempts")
        assert scripted.headers["Retry-After"] == refused.headers["Retry-After"]
        assert mails(db) == 5

        # Another client is not held up by this one.
        with closing(visitor(app, "198.51.100.20")) as neighbour:
            assert send_form(neighbour, "neighbour@example.com").status_code == 200

        clock.advance(minutes=10)
        assert send_form(stranger, "victim8@example.com").status_code == 200
    assert mails(db) == 7


def test_a_page_takes_only_so_many_sends_an_hour_from_everyone(db, admin, database_url, clock):
    settings = Settings(
        database_url=database_url,
        run_engine=False,
        base_url="http://testserver",
        subscribe_per_page_hour=3,
    )
    build_page(db, admin)
    build_page(db, admin, slug="other")
    app = create_app(settings, db)
    for n in range(3):
        with closing(visitor(app, f"192.0.2.{n + 1}")) as client:
            assert send_form(client, f"reader{n}@example.com").status_code == 200
    with closing(visitor(app, "192.0.2.99")) as late:
        refused = send_form(late, "late@example.com")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 3600
        # Another page has its own hour.
        assert send_form(late, "late@example.com", slug="other").status_code == 200
        clock.advance(hours=1)
        assert send_form(late, "late@example.com").status_code == 200


def test_an_ipv6_client_is_counted_by_its_network():
    """One host owns a whole /64: changing the last bits must not buy more sends."""
    assert client_place("2001:db8:1:2::1") == client_place("2001:db8:1:2:ffff::9")
    assert client_place("2001:db8:1:3::1") != client_place("2001:db8:1:2::1")
    assert client_place("203.0.113.7") == "203.0.113.7"


def count(db, model) -> int:
    with db.begin() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_housekeeping_forgets_the_unconfirmed_after_seven_days_and_old_links(
    db, admin, app, settings, clock
):
    world = build_page(db, admin)
    with closing(visitor(app)) as stranger:
        send_form(stranger, "never@example.com")
    with db.begin() as session:
        page = session.get(StatusPage, world.page_id)
        subscribers.subscribe(session, page, "reader@example.com", [])
        reader = session.scalar(
            select(Subscriber).where(Subscriber.address == "reader@example.com")
        )
        reader.confirmed_at = now()
        session.commit()
    assert count(db, SubscriberLink) == 2 and count(db, FormSendCount) == 2
    housekeeping = StaleSubscriptions(settings)

    clock.advance(days=6, hours=23)
    housekeeping.run_due(db, now())
    assert count(db, Subscriber) == 2
    assert count(db, FormSendCount) == 0  # the form's windows have passed

    clock.advance(hours=1, minutes=1)
    assert housekeeping.run_due(db, now()) == 1  # the subscriber (their link goes with them)
    with db.begin() as session:
        assert [s.address for s in session.scalars(select(Subscriber))] == ["reader@example.com"]
    assert count(db, SubscriberLink) == 1

    # The reader's confirmation link ages out after a year; the reader stays subscribed.
    clock.advance(days=365)
    assert housekeeping.run_due(db, now()) == 1
    assert count(db, Subscriber) == 1 and count(db, SubscriberLink) == 0
