"""A closed or cancelled incident offers only what it still allows: nobody is paged, given a
role or handed it, and it is not newly published or first announced to stakeholders."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_error
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.deps import SESSION_COOKIE

OFFERS = (
    "Page someone",
    "Assign roles",
    "Hand over incident manager",
    "Publish to status page",
    "First stakeholder update",
)


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


def declare(api) -> str:
    created = api.post("/api/v1/incidents", json={"summary": "Checkout down", "severity": "SEV3"})
    assert created.status_code == 201, created.text
    return created.json()["key"]


def move(api, key: str, *steps: dict) -> None:
    for step in steps:
        moved = api.post(f"/api/v1/incidents/{key}/status", json=step)
        assert moved.status_code == 200, moved.text


def close(api, key: str) -> None:
    move(
        api,
        key,
        {"status": "fixing"},
        {"status": "resolved", "resolution_summary": "Rolled back"},
        {"status": "closed"},
    )


def cancel(api, key: str) -> None:
    move(api, key, {"status": "cancelled", "reason": "A test system fired"})


ENDINGS = {
    "closed": (close, "is closed, and closing is final"),
    "cancelled": (cancel, "was cancelled as a false alarm"),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_an_ended_incident_refuses_paging_roles_handover_and_publishing(
    ending, ada, rita, make_user
):
    helper = make_user(Role.RESPONDER, name="Hal Helper")
    channel = ada.post(
        "/api/v1/stakeholder-channels", json={"name": "Chat", "url": "json://127.0.0.1:9/hook"}
    ).json()
    status_page = ada.post("/api/v1/status-pages", json={"slug": "shop", "name": "Shop"}).json()
    key = declare(rita)
    end, why = ENDINGS[ending]
    end(rita, key)
    before = rita.get(f"/api/v1/incidents/{key}/timeline").json()

    refusals = {
        "paged": rita.post(
            f"/api/v1/incidents/{key}/pages",
            json={"targets": [{"kind": "user", "id": helper.id}]},
        ),
        "given a role": rita.put(
            f"/api/v1/incidents/{key}/roles", json={"tech_lead_ids": [helper.id]}
        ),
        "take it over": rita.post(
            f"/api/v1/incidents/{key}/handover", json={"to_user_id": helper.id}
        ),
        "first stakeholder update": rita.post(
            f"/api/v1/incidents/{key}/updates",
            json={"channel_ids": [channel["id"]], "body": "All good."},
        ),
        "publish it on a status page": rita.post(
            f"/api/v1/status-pages/{status_page['id']}/incidents",
            json={"name": "Checkout", "body": "Looking.", "incident_key": key},
        ),
    }
    for doing, answer in refusals.items():
        error = assert_error(answer, 409, code="incident_ended", field="status")
        assert error["message"].startswith(f"{key} {why}"), error
        assert doing in error["message"], error
    assert rita.get(f"/api/v1/incidents/{key}/timeline").json() == before  # nothing written
    assert rita.get(f"/api/v1/incidents/{key}/pages").json() == []
    assert rita.get(f"/api/v1/incidents/{key}").json()["tech_leads"] == []
    # What keeps the record is still allowed.
    note = rita.post(f"/api/v1/incidents/{key}/notes", json={"text": "Postmortem booked"})
    assert note.status_code == 201, note.text


def test_an_incident_that_told_stakeholders_may_still_tell_them_it_is_over(ada, rita):
    channel = ada.post(
        "/api/v1/stakeholder-channels", json={"name": "Chat", "url": "json://127.0.0.1:9/hook"}
    ).json()
    key = declare(rita)
    body = {"channel_ids": [channel["id"]], "body": "Checkout is down; we are on it."}
    assert rita.post(f"/api/v1/incidents/{key}/updates", json=body).status_code == 201
    close(rita, key)
    body["body"] = "It is over."
    assert rita.post(f"/api/v1/incidents/{key}/updates", json=body).status_code == 201


@pytest.fixture
def web_as(app, db):
    clients: list[TestClient] = []

    def as_user(user: User) -> TestClient:
        with db.begin() as session:
            cookie, _login = auth.start_login(session, session.get(User, user.id), 1)
        client = TestClient(app, cookies={SESSION_COOKIE: cookie}, headers={"accept": "text/html"})
        clients.append(client)
        return client

    yield as_user
    for client in clients:
        client.close()


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_the_page_of_an_ended_incident_offers_only_what_it_allows(
    ending, ada, rita, web_as, responder
):
    ada.post(
        "/api/v1/stakeholder-channels", json={"name": "Chat", "url": "json://127.0.0.1:9/hook"}
    )
    key = declare(rita)
    browser = web_as(responder)
    going = browser.get(f"/incidents/{key}").text
    for offer in OFFERS:
        assert offer in going, offer
    ENDINGS[ending][0](rita, key)
    ended = browser.get(f"/incidents/{key}").text
    for offer in OFFERS:
        assert offer not in ended, offer
    assert "Edit details" in ended and 'action="/incidents/' + key + '/notes"' in ended
