"""Who will be woken is never in doubt: a service's escalation policy is chosen where the
service is made, a service without one says so in red, and what paged nobody says so."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from tests.alerting import make_integration, run_engine
from tests.browsing import (  # noqa: F401  (the *_fixture names are fixtures)
    BROWSER_MARKS,
    PHONE,
    assert_fits,
    browser_fixture,
    expect,
    log_in,
    one_database_fixture,
    open_page_fixture,
    shoot,
)
from tests.conftest import assert_error
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.deps import SESSION_COOKIE
from tocsin.web.templating import FLASH_COOKIE

NOBODY = "Nobody was paged: checkout has no escalation policy"
MISLEADING = ("started paging", "Paging stopped", "Paged the on-call")


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


def make_policy(api, name: str = "Checkout on-call", user_id: int | None = None) -> dict:
    me = user_id or api.get("/api/v1/me").json()["id"]
    body = {
        "name": name,
        "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": me}]}],
    }
    created = api.post("/api/v1/escalation-policies", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def test_a_service_gets_its_escalation_policy_when_made_or_edited(ada):
    policy = make_policy(ada)
    made = ada.post(
        "/api/v1/services", json={"name": "checkout", "escalation_policy_id": policy["id"]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["escalation_policy"] == {"id": policy["id"], "name": policy["name"]}
    bare = ada.post("/api/v1/services", json={"name": "search"}).json()
    assert bare["escalation_policy"] is None
    listed = {s["name"]: s["escalation_policy"] for s in ada.get("/api/v1/services").json()}
    assert listed == {"checkout": made.json()["escalation_policy"], "search": None}

    chosen = ada.patch(
        f"/api/v1/services/{bare['id']}", json={"escalation_policy_id": policy["id"]}
    )
    assert chosen.json()["escalation_policy"]["id"] == policy["id"]
    renamed = ada.patch(f"/api/v1/services/{bare['id']}", json={"name": "search-api"}).json()
    assert renamed["escalation_policy"]["id"] == policy["id"]  # untouched unless named
    cleared = ada.patch(f"/api/v1/services/{bare['id']}", json={"escalation_policy_id": None})
    assert cleared.json()["escalation_policy"] is None
    assert ada.get(f"/api/v1/services/{bare['id']}").json()["escalation_policy"] is None

    unknown = ada.post("/api/v1/services", json={"name": "ghost", "escalation_policy_id": 999})
    assert_error(unknown, 422, field="escalation_policy_id")
    assert "ghost" not in {s["name"] for s in ada.get("/api/v1/services").json()}  # not half-made
    wrong = ada.patch(
        f"/api/v1/services/{bare['id']}", json={"name": "renamed", "escalation_policy_id": 999}
    )
    assert_error(wrong, 422, field="escalation_policy_id")
    assert ada.get(f"/api/v1/services/{bare['id']}").json()["name"] == "search-api"


def send(client, key: str) -> None:
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "db-1",
        "payload": {"summary": "Orders fail", "source": "probe", "severity": "critical"},
    }
    assert client.post("/v2/enqueue", json=body).status_code == 202


def messages(api, url: str) -> list[str]:
    return [e["message"] for e in api.get(url).json()]


def test_an_alert_that_paged_nobody_says_so_and_why(client, db, ada, rita):
    integration = make_integration(ada, "pagerduty", service="checkout")
    send(client, integration["key"])
    run_engine(db)
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    assert rita.post(f"/api/v1/alerts/{alert['id']}/acknowledge").status_code == 200
    said = messages(ada, f"/api/v1/alerts/{alert['id']}/timeline")
    assert NOBODY in said
    assert not [m for m in said if any(words in m for words in MISLEADING)], said


def test_an_incident_that_paged_nobody_says_so_and_why(ada, rita):
    service = ada.post("/api/v1/services", json={"name": "checkout"}).json()
    declared = rita.post(
        "/api/v1/incidents",
        json={"summary": "Orders fail", "severity": "SEV2", "service_id": service["id"]},
    ).json()
    key = declared["key"]
    assert (
        rita.post(f"/api/v1/incidents/{key}/status", json={"status": "fixing"}).status_code == 200
    )
    said = messages(rita, f"/api/v1/incidents/{key}/timeline")
    assert NOBODY in said
    assert not [m for m in said if any(words in m for words in MISLEADING)], said


def test_paging_that_reached_someone_still_says_it_stopped(client, db, ada, rita):
    policy = make_policy(ada)
    service = ada.post(
        "/api/v1/services", json={"name": "checkout", "escalation_policy_id": policy["id"]}
    ).json()
    declared = rita.post(
        "/api/v1/incidents",
        json={"summary": "Orders fail", "severity": "SEV2", "service_id": service["id"]},
    ).json()
    run_engine(db)
    rita.post(f"/api/v1/incidents/{declared['key']}/status", json={"status": "fixing"})
    said = messages(rita, f"/api/v1/incidents/{declared['key']}/timeline")
    assert "Tocsin started paging: the on-call of checkout" in said
    assert any(m.startswith("Paging stopped: acknowledged by") for m in said)
    assert NOBODY not in said


@pytest.fixture
def web_as(app, db):
    clients: list[TestClient] = []

    def as_user(user: User) -> TestClient:
        with db.begin() as session:
            cookie, login = auth.start_login(session, session.get(User, user.id), 1)
        client = TestClient(app, cookies={SESSION_COOKIE: cookie}, headers={"accept": "text/html"})
        client.csrf = login.csrf_token
        clients.append(client)
        return client

    yield as_user
    for client in clients:
        client.close()


def flash_of(response) -> str:
    return unquote(response.cookies.get(FLASH_COOKIE, ""))


def red_no_policy(html: str, service: str | None = None) -> bool:
    """The red tag that says a service pages nobody."""
    words = f"{service} has no escalation policy" if service else "no escalation policy"
    return bool(re.search(rf'class="tag tag-bad no-policy"[^>]*>{words}: nobody is paged', html))


def test_the_pages_choose_a_policy_and_show_red_where_there_is_none(
    client, db, ada, rita, admin, responder, web_as
):
    policy = make_policy(ada)
    browser = web_as(admin)
    made = browser.post(
        "/services",
        data={"csrf_token": browser.csrf, "name": "checkout", "escalation_policy_id": ""},
        follow_redirects=False,
    )
    assert flash_of(made).startswith("warn|Service checkout is added. It has no escalation policy")
    with_policy = browser.post(
        "/services",
        data={"csrf_token": browser.csrf, "name": "search", "escalation_policy_id": policy["id"]},
        follow_redirects=False,
    )
    assert flash_of(with_policy) == "ok|Service search is added; it pages through Checkout on-call."
    services = {s["name"]: s for s in ada.get("/api/v1/services").json()}
    checkout = services["checkout"]["id"]
    assert services["search"]["escalation_policy"]["id"] == policy["id"]

    listing = browser.get("/services").text
    assert red_no_policy(listing, "checkout") and not red_no_policy(listing, "search")
    assert 'name="escalation_policy_id"' in listing  # on the add and edit forms
    assert red_no_policy(browser.get("/oncall").text)
    alerting = browser.get(f"/services/{checkout}/alerting").text
    assert red_no_policy(alerting, "checkout")

    integration = make_integration(ada, "pagerduty", service="checkout")
    alerting = browser.get(f"/services/{checkout}/alerting").text
    assert "Nobody will be paged: checkout has no escalation policy." in alerting  # confirm
    tested = browser.post(
        f"/services/{checkout}/alerting/integrations/{integration['id']}/test",
        data={"csrf_token": browser.csrf, "severity": "critical"},
        follow_redirects=False,
    )
    assert "Nobody will be paged: checkout has no escalation policy" in flash_of(tested)
    run_engine(db)
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    alert_page = web_as(responder).get(f"/alerts/{alert['id']}").text
    assert f"{NOBODY}." in alert_page and red_no_policy(alert_page)
    assert not [words for words in MISLEADING if words in alert_page], alert_page
    declared = rita.post(
        "/api/v1/incidents",
        json={"summary": "Orders fail", "severity": "SEV2", "service_id": checkout},
    ).json()
    incident_page = web_as(responder).get(f"/incidents/{declared['key']}").text
    assert f"{NOBODY}." in incident_page and red_no_policy(incident_page)
    assert not [words for words in MISLEADING if words in incident_page]

    # Chosen on the Alerting page, it says so there at once.
    chosen = browser.post(
        f"/oncall/services/{checkout}/escalation-policy",
        data={
            "csrf_token": browser.csrf,
            "escalation_policy_id": policy["id"],
            "back": f"/services/{checkout}/alerting",
        },
        follow_redirects=False,
    )
    assert chosen.headers["location"] == f"/services/{checkout}/alerting"
    alerting = browser.get(f"/services/{checkout}/alerting").text
    assert not red_no_policy(alerting) and "page through" in alerting
    edited = browser.post(
        f"/services/{checkout}",
        data={"csrf_token": browser.csrf, "name": "checkout", "escalation_policy_id": ""},
        follow_redirects=False,
    )
    assert flash_of(edited).startswith("ok|")
    assert ada.get(f"/api/v1/services/{checkout}").json()["escalation_policy"] is None


def _in_a_browser(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@_in_a_browser
def test_on_a_phone_an_alert_that_paged_nobody_says_so(
    client, db, ada, responder, open_page, one_database
):
    integration = make_integration(ada, "pagerduty", service="checkout")
    send(client, integration["key"])
    run_engine(db)
    [alert] = ada.get("/api/v1/alerts").json()["items"]
    page = open_page(PHONE, phone=True)
    log_in(page, responder, then=f"/alerts/{alert['id']}")
    expect(page.locator("#nobody-paged")).to_have_text(f"{NOBODY}.")
    expect(page.locator(".no-policy").first).to_be_visible()
    assert_fits(page, PHONE["width"])
    shoot(page, "alert-that-paged-nobody-390")
