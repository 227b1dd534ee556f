"""One email address, checked by email-validator, wherever Tocsin takes one: people, contact
methods, status page subscribers (by a responder or on the public form). A list such as
`me@example.org,postmaster` used to pass, and mail then went to both."""

from __future__ import annotations

import re
from contextlib import closing

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import assert_error
from tests.statuspage_world import build_page
from tocsin.paging.models import Notification
from tocsin.statuspage.models import Subscriber

NOT_ONE_ADDRESS = [
    "me@example.org,postmaster",
    "me@example.org;you@example.org",
    "Me <me@example.org>",
    "me@localhost",
    "me@example",
    "@example.org",
]


@pytest.mark.parametrize("address", NOT_ONE_ADDRESS)
def test_a_person_needs_one_email_address(api_as, admin, address):
    answer = api_as(admin).post(
        "/api/v1/users", json={"email": address, "name": "Mia", "role": "responder"}
    )
    assert_error(answer, 422, field="email")


def test_a_person_with_a_good_address_is_kept_lowercased(api_as, admin):
    created = api_as(admin).post(
        "/api/v1/users", json={"email": "Mia.Lopez@Example.org", "name": "Mia", "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "mia.lopez@example.org"


@pytest.mark.parametrize("address", ["me@example.org,postmaster", "me@example.org;you@example.org"])
def test_an_email_contact_method_needs_one_address(api_as, responder, address):
    mine = api_as(responder)
    answer = mine.post("/api/v1/me/contact-methods", json={"channel": "email", "address": address})
    assert_error(answer, 422)
    assert "one email address" in answer.json()["error"]["message"]
    assert mine.get("/api/v1/me/contact-methods").json() == []
    ok = mine.post(
        "/api/v1/me/contact-methods", json={"channel": "email", "address": "rita@example.org"}
    )
    assert ok.status_code == 201, ok.text


def test_a_subscriber_added_by_a_responder_needs_one_address(api_as, admin, db):
    world = build_page(db, admin)
    api = api_as(admin)
    url = f"/api/v1/status-pages/{world.page_id}/subscribers"
    answer = api.post(url, json={"kind": "email", "address": "a@example.org,b@example.org"})
    assert_error(answer, 422)
    assert api.post(url, json={"kind": "email", "address": "a@example.org"}).status_code == 201


def test_the_public_subscribe_form_takes_one_address_and_mails_nobody_else(app, admin, db):
    build_page(db, admin)
    with closing(TestClient(app, follow_redirects=False)) as browser:
        form = browser.get("/status/acme/subscribe")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        refused = browser.post(
            "/status/acme/subscribe",
            data={"email": "me@example.org,postmaster", "csrf_token": token},
        )
    assert refused.status_code == 422
    assert "Please enter an email address" in refused.text
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
