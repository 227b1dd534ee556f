"""Sweeps over every route the app serves: nothing without a login, nothing changed by a viewer.

The routes are read from the running app, not listed by hand, so a route added
later is swept too; a route that should be open must be added to an allow-list
here, where a reviewer sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount, WebSocketRoute
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from tests.conftest import assert_error, browser_login
from tocsin.auth.models import Role
from tocsin.tables import metadata

# Open without a login: the login form, probes for load balancers, static files.
ANONYMOUS_ROUTES = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # Public status pages and their Statuspage-compatible JSON and feed: customers read them
    # without a login. A private page still asks for one (tests/test_statuspage_api.py).
    ("GET", "/status/{slug}"),
    ("GET", "/status/{slug}/history"),
    ("GET", "/status/{slug}/history.atom"),
    ("GET", "/status/{slug}/incidents/{code}"),
    # The subscribe form (a private page's form asks for a login itself:
    # tests/test_statuspage_subscribers.py).
    ("GET", "/status/{slug}/subscribe"),
    ("POST", "/status/{slug}/subscribe"),
    *(
        ("GET", f"/status/{{slug}}/api/v2/{name}")
        for name in (
            "summary.json",
            "status.json",
            "components.json",
            "incidents.json",
            "incidents/unresolved.json",
            "scheduled-maintenances.json",
            "scheduled-maintenances/upcoming.json",
            "scheduled-maintenances/active.json",
        )
    ),
}
ANONYMOUS_MOUNTS = {"/static", "/docs/assets"}
# Routes that answer nothing but a redirect to a page that itself needs a login (none now:
# "/" asks for a login itself).
REDIRECT_ONLY: dict[tuple[str, str], str] = {}
# The contracts with other people's tools (DESIGN.md): monitoring authenticates with an
# integration key, never a login. With a made-up key they must refuse and write nothing.
KEYED_ROUTES = {
    ("POST", "/v2/enqueue"),
    ("POST", "/integrations/alertmanager/{token}"),
    ("POST", "/integrations/webhook/{token}"),
    ("GET", "/heartbeats/{token}"),
    ("HEAD", "/heartbeats/{token}"),
    ("POST", "/heartbeats/{token}"),
    # One-click acknowledge links in pages: the single-use token is the credential.
    ("GET", "/respond/{token}"),
    ("POST", "/respond/{token}"),
    # iCalendar feeds for calendar apps, which cannot log in: ?token= is the credential.
    ("GET", "/oncall/schedules/{schedule_id}/calendar.ics"),
    ("GET", "/oncall/users/{user_id}/calendar.ics"),
    # The postmortem blog's Atom feed for feed readers: ?token= is the credential.
    ("GET", "/postmortems/feed.atom"),
    # Confirm and unsubscribe links mailed to status page subscribers: the link's secret.
    ("GET", "/status/{slug}/subscriptions/{token}/confirm"),
    ("POST", "/status/{slug}/subscriptions/{token}/confirm"),
    ("GET", "/status/{slug}/subscriptions/{token}/unsubscribe"),
    ("POST", "/status/{slug}/subscriptions/{token}/unsubscribe"),
}
MADE_UP_KEY = "tik_0123456789abcdef_made-up-secret"
# A well-formed event, so that only the key is wrong where the format allows it.
EVENT = {
    "routing_key": MADE_UP_KEY,
    "event_action": "trigger",
    "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"},
}

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SCRIPT = {"accept": "application/json"}


@dataclass(frozen=True)
class Served:
    kind: str  # "http", "mount" or "websocket"
    path: str
    methods: frozenset[str] = frozenset()


def served_routes(app: FastAPI) -> list[Served]:
    """Every route the app answers, with its full path (routers included with a prefix too)."""
    found: list[Served] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.append(Served("mount", context.path))
        elif isinstance(route, WebSocketRoute):
            found.append(Served("websocket", context.path))
        elif context.methods:
            found.append(Served("http", context.path, frozenset(context.methods)))
        else:  # something this sweep does not know how to try: make someone look
            found.append(Served("unknown", str(context.path or route)))
    return found


def swept_methods(route: Served) -> list[str]:
    """HEAD is answered by the GET handler, so trying GET covers it."""
    methods = set(route.methods)
    if "GET" in methods:
        methods.discard("HEAD")
    return sorted(methods)


def http_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for route in served_routes(app):
        if route.kind == "http":
            for method in swept_methods(route):
                yield method, route.path


def concrete(path: str, values: dict[str, Any] | None = None) -> str:
    """The path with its parameters filled in: real ids when given, else placeholders."""
    values = values or {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        return "INC-1" if name == "key" else "1"

    return re.sub(r"\{(\w+)(?::\w+)?\}", fill, path)


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def _login_redirect(response) -> bool:
    return response.status_code == 303 and response.headers.get("location", "").startswith("/login")


def _unauthenticated_json(response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return response.status_code == 401 and body.get("error", {}).get("code") == "unauthenticated"


def anonymous_problems(app: FastAPI, cookies: dict[str, str] | None = None) -> list[str]:
    """Every route that answers something other than 'log in first', described."""
    problems: list[str] = []
    # closing(), not `with TestClient`: that would run the app's lifespan once more.
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    with closing(client) as anonymous:
        for name, value in (cookies or {}).items():
            anonymous.cookies.set(name, value)
        swept: set[tuple[str, str]] = set()
        for route in served_routes(app):
            if route.kind == "mount":
                if route.path not in ANONYMOUS_MOUNTS:
                    response = anonymous.get(f"{route.path}/anything", headers=BROWSER)
                    if not _login_redirect(response):
                        problems.append(f"mount {route.path}: {response.status_code}")
                continue
            if route.kind == "websocket":
                problems.extend(_websocket_problem(anonymous, route.path))
                continue
            if route.kind == "unknown":
                problems.append(f"cannot sweep {route.path}: teach tests/test_access.py how")
                continue
            for method in swept_methods(route):
                if (method, route.path) in ANONYMOUS_ROUTES:
                    continue
                swept.add((method, route.path))
                problems.extend(_http_problems(anonymous, method, route.path))
        for (method, path), target in REDIRECT_ONLY.items():
            if (method, target) not in swept:
                problems.append(f"{method} {path} redirects to {target}, which was not swept")
    return problems


def _http_problems(client: TestClient, method: str, path: str) -> list[str]:
    url = concrete(path)
    if (method, path) in KEYED_ROUTES:
        url = concrete(path, {"token": MADE_UP_KEY})
        response = client.request(method, url, json=EVENT if method != "GET" else None)
        if 400 <= response.status_code < 500:
            return []
        return [f"{method} {path} with a made-up key: {response.status_code}"]
    if (method, path) in REDIRECT_ONLY:
        response = client.request(method, url, headers=BROWSER)
        if (
            response.status_code == 303
            and response.headers["location"] == REDIRECT_ONLY[(method, path)]
        ):
            return []
        return [f"{method} {path}: {response.status_code}, not the redirect it is allowed"]
    problems = []
    as_script = client.request(method, url, headers=SCRIPT)
    if method == "HEAD" and as_script.status_code in (401, 303):
        return []  # no body to read the error from
    if not _unauthenticated_json(as_script):
        problems.append(f"{method} {path} (script): {as_script.status_code}")
    if not is_api(path):
        as_browser = client.request(method, url, headers=BROWSER)
        if not _login_redirect(as_browser):
            problems.append(f"{method} {path} (browser): {as_browser.status_code}")
    return problems


def _websocket_problem(client: TestClient, path: str) -> list[str]:
    try:
        with client.websocket_connect(concrete(path)):
            return [f"websocket {path} accepted an anonymous connection"]
    except WebSocketDisconnect:
        return []
    except WebSocketDenialResponse as denied:
        return [] if denied.status_code in (401, 403) else [f"websocket {path}: {denied}"]


def snapshot(db) -> dict[str, list[str]]:
    """Every row of every table, to prove that nothing was written.

    An API token's last_used_at is bookkeeping of the read itself and is left out.
    """
    state: dict[str, list[str]] = {}
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [
                c for c in table.columns if (table.name, c.name) != ("api_tokens", "last_used_at")
            ]
            rows = connection.execute(select(*columns)).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


# ---------------------------------------------------------------- the sweep finds every route


def test_the_sweep_sees_every_route_the_app_serves(app):
    routes = set(http_routes(app))
    paths = {path for _method, path in routes}
    documented = app.openapi()["paths"]
    for path, operations in documented.items():
        for method in operations:
            assert (method.upper(), path) in routes, f"{method} {path} is served but not swept"
    # Pages are left out of the schema; the sweep must still see them.
    assert {"/login", "/incidents", "/incidents/{key}", "/settings", "/admin/audit"} <= paths
    assert {"/docs", "/openapi.json"} <= paths
    assert {"/api/v1/incidents", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit"} <= paths
    # The allow-lists name only things that exist, so they cannot silently go stale.
    assert routes >= ANONYMOUS_ROUTES | set(REDIRECT_ONLY)
    mounts = {r.path for r in served_routes(app) if r.kind == "mount"}
    assert mounts >= ANONYMOUS_MOUNTS


# ---------------------------------------------------------------- everything needs a login


def test_every_route_needs_a_login(app, db):
    before = snapshot(db)
    assert anonymous_problems(app) == []
    assert snapshot(db) == before


def test_a_forged_session_cookie_is_no_login(app):
    forged = {"tocsin_session": "tss_0123456789abcdef_forged-secret"}
    assert anonymous_problems(app, forged) == []


def test_a_logged_out_session_cookie_is_no_login(app, browser_login_as, responder):
    browser, csrf = browser_login_as(responder)
    cookie = browser.cookies["tocsin_session"]
    browser.post("/logout", data={"csrf_token": csrf})
    assert anonymous_problems(app, {"tocsin_session": cookie}) == []


def test_the_open_routes_answer_without_a_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/tocsin.css").status_code == 200
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_the_api_documentation_is_there_after_login(api_as, browser_login_as, viewer):
    schema = api_as(viewer).get("/openapi.json")
    assert schema.status_code == 200 and "/api/v1/incidents" in schema.json()["paths"]
    browser, _csrf = browser_login_as(viewer)
    docs = browser.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_the_sweep_catches_a_route_added_without_a_login(app):
    """Guards the guard: if the sweep went blind, the tests above would pass vacuously."""

    @app.get("/leaky-page")
    def leaky_page() -> dict[str, str]:
        return {"secret": "yes"}

    @app.post("/api/v1/leaky-write")
    def leaky_write() -> dict[str, str]:
        return {"written": "yes"}

    nested = APIRouter()

    @nested.delete("/things/{thing_id}")
    def leaky_delete(thing_id: int) -> dict[str, int]:
        return {"deleted": thing_id}

    app.include_router(nested, prefix="/api/v1/nested")
    app.mount("/leaky-files", FastAPI())

    @app.websocket("/leaky-socket")
    async def leaky_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    problems = "\n".join(anonymous_problems(app))
    assert "GET /leaky-page" in problems
    assert "POST /api/v1/leaky-write" in problems
    assert "DELETE /api/v1/nested/things/{thing_id}" in problems
    assert "mount /leaky-files" in problems
    assert "websocket /leaky-socket" in problems
    assert len(problems.splitlines()) == 6  # the page fails as a script and as a browser


# ---------------------------------------------------------------- a viewer changes nothing


@pytest.fixture
def browser_login_as(app):
    opened: list[TestClient] = []

    def login(user) -> tuple[TestClient, str]:
        browser = TestClient(app, follow_redirects=False)
        opened.append(browser)
        return browser, browser_login(browser, user)

    yield login
    for browser in opened:
        browser.close()


@pytest.fixture
def world(api_as, admin, responder, viewer, make_user) -> dict[str, Any]:
    """One of everything, so each route is tried on something that exists."""
    ada, rita = api_as(admin), api_as(responder)
    colleague = make_user(Role.RESPONDER, name="Cole Colleague")
    team = ada.post("/api/v1/teams", json={"name": "Payments", "member_ids": [responder.id]}).json()
    service = ada.post("/api/v1/services", json={"name": "checkout", "team_id": team["id"]})
    product = ada.post("/api/v1/products", json={"name": "Web shop"}).json()
    incident = rita.post(
        "/api/v1/incidents",
        json={"summary": "Checkout fails", "severity": "SEV2", "service_id": service.json()["id"]},
    ).json()
    note = rita.post(f"/api/v1/incidents/{incident['key']}/notes", json={"text": "CPU at 100%"})
    rita.post(f"/api/v1/incidents/{incident['key']}/handover", json={"to_user_id": colleague.id})
    token = ada.post("/api/v1/tokens", json={"name": "ada's script"}).json()
    return {
        "key": incident["key"],
        "team_id": team["id"],
        "service_id": service.json()["id"],
        "product_id": product["id"],
        "event_id": note.json()["id"],
        "token_id": token["id"],  # someone else's
        "user_id": responder.id,  # someone else, and a team member
        "viewer_id": viewer.id,
        "colleague_id": colleague.id,
    }


def api_attempts(world: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """What a viewer might try on each API route: a body that would work for an admin."""
    return {
        ("PATCH", "/api/v1/me"): {"role": "admin"},
        ("POST", "/api/v1/users"): {
            "email": "mole@example.com",
            "name": "Mole",
            "role": "admin",
            "password": "mole-password-1",
        },
        ("PATCH", "/api/v1/users/{user_id}"): {"role": "viewer"},
        ("POST", "/api/v1/teams"): {"name": "Viewers"},
        ("PATCH", "/api/v1/teams/{team_id}"): {"name": "Renamed"},
        ("POST", "/api/v1/teams/{team_id}/members"): {"user_id": world["viewer_id"]},
        ("POST", "/api/v1/services"): {"name": "viewer-service"},
        ("PATCH", "/api/v1/services/{service_id}"): {"description": "changed"},
        ("POST", "/api/v1/products"): {"name": "Viewer product"},
        ("PATCH", "/api/v1/products/{product_id}"): {"name": "Renamed"},
        ("POST", "/api/v1/incidents"): {"summary": "Viewer incident", "severity": "SEV3"},
        ("PATCH", "/api/v1/incidents/{key}"): {"summary": "Changed by a viewer"},
        ("POST", "/api/v1/incidents/{key}/status"): {"status": "fixing"},
        ("PUT", "/api/v1/incidents/{key}/roles"): {"tech_lead_ids": [world["colleague_id"]]},
        ("POST", "/api/v1/incidents/{key}/handover"): {"to_user_id": world["colleague_id"]},
        ("POST", "/api/v1/incidents/{key}/participants"): {"user_id": world["viewer_id"]},
        ("POST", "/api/v1/incidents/{key}/notes"): {"text": "A viewer was here"},
        ("PUT", "/api/v1/incidents/{key}/timeline/{event_id}/star"): {"starred": True},
    }


# A viewer's own key to read with; the token it makes carries the viewer's rights, no more.
VIEWER_MAY = {("POST", "/api/v1/tokens")}


def test_a_viewer_can_change_nothing_through_the_api(app, api_as, viewer, world, db):
    as_viewer = api_as(viewer)
    attempts = api_attempts(world)
    before = snapshot(db)
    tried = []
    for method, path in http_routes(app):
        if not path.startswith("/api/v1/") or method == "GET" or (method, path) in VIEWER_MAY:
            continue
        body = attempts.get((method, path), {})
        response = as_viewer.request(method, concrete(path, world), json=body)
        tried.append(f"{method} {path}")
        assert not response.is_success, f"{method} {path} let a viewer through: {response.text}"
        if (method, path) in attempts:
            assert response.status_code in (403, 404), f"{method} {path}: {response.text}"
        else:  # a route added later, tried with an empty body
            assert response.status_code in (403, 404, 422), f"{method} {path}: {response.text}"
        assert_error(response, response.status_code)
    assert snapshot(db) == before
    assert len(tried) >= 25 and "DELETE /api/v1/teams/{team_id}" in tried


def test_a_viewer_keeps_their_own_profile_and_tokens_but_gains_nothing(api_as, viewer, world):
    as_viewer = api_as(viewer)
    renamed = as_viewer.patch("/api/v1/me", json={"name": "Vic V.", "time_zone": "Europe/Oslo"})
    assert renamed.status_code == 200 and renamed.json()["role"] == "viewer"

    made = as_viewer.post("/api/v1/tokens", json={"name": "dashboard"})
    assert made.status_code == 201
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    with closing(TestClient(as_viewer.app, headers=token)) as dashboard:
        assert dashboard.get("/api/v1/me").json()["role"] == "viewer"
        declare = {"summary": "x", "severity": "SEV3"}
        assert_error(dashboard.post("/api/v1/incidents", json=declare), 403)
    assert as_viewer.delete(f"/api/v1/tokens/{made.json()['id']}").status_code == 200
    assert_error(as_viewer.delete(f"/api/v1/tokens/{world['token_id']}"), 404)


def form_attempts(world: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """What a viewer might submit on each page's forms."""
    return {
        ("POST", "/teams"): {"name": "Viewers"},
        ("POST", "/teams/{team_id}/members"): {"user_id": world["viewer_id"]},
        ("POST", "/admin/users"): {"email": "mole@example.com", "name": "Mole", "role": "admin"},
        ("POST", "/admin/users/{user_id}"): {"role": "viewer"},
        ("POST", "/services"): {"name": "viewer-service"},
        ("POST", "/services/{service_id}"): {"name": "renamed", "description": "changed"},
        ("POST", "/products"): {"name": "Viewer product"},
        ("POST", "/incidents/new"): {"summary": "Viewer incident", "severity": "SEV3"},
        ("POST", "/incidents/{key}/status"): {"status": "fixing"},
        ("POST", "/incidents/{key}/edit"): {"summary": "Changed by a viewer", "severity": "SEV1"},
        ("POST", "/incidents/{key}/roles"): {"tech_lead_ids": world["colleague_id"]},
        ("POST", "/incidents/{key}/handover"): {"to_user_id": world["colleague_id"]},
        ("POST", "/incidents/{key}/participants"): {"user_id": world["viewer_id"]},
        ("POST", "/incidents/{key}/notes"): {"text": "A viewer was here"},
        ("POST", "/incidents/{key}/timeline/{event_id}/star"): {"starred": "on"},
    }


# Your own session and settings; proven to stay your own in test_auth.py.
VIEWER_MAY_SUBMIT = {
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/settings/profile"),
    ("POST", "/settings/tokens"),
    ("POST", "/settings/tokens/{token_id}/revoke"),
    # Their own secret feed of the postmortem blog, which they may read anyway.
    ("POST", "/postmortems/feed"),
}


def test_a_viewer_can_change_nothing_through_the_pages(app, browser_login_as, viewer, world, db):
    browser, csrf = browser_login_as(viewer)
    attempts = form_attempts(world)
    before = snapshot(db)
    tried = 0
    for method, path in http_routes(app):
        if is_api(path) or method == "GET" or (method, path) in VIEWER_MAY_SUBMIT:
            continue
        form = {**attempts.get((method, path), {}), "csrf_token": csrf}
        response = browser.request(method, concrete(path, world), data=form, headers=BROWSER)
        tried += 1
        assert not response.is_success, f"{method} {path} answered {response.status_code}"
        # A refusal is a 4xx page or a redirect back with the reason, never a lost login.
        assert not _login_redirect(response), f"{method} {path} logged the viewer out"
        assert snapshot(db) == before, f"{method} {path} changed something for a viewer"
    assert tried >= 15
    # ...and the viewer is still logged in: the refusals were not a lost session.
    assert browser.get("/api/v1/me").json()["role"] == "viewer"


# ---------------------------------------------------------------- nothing under a missing parent

MISSING_ID = 999_999
# A body each nested write would take if its parent existed, so that only the parent is wrong.
LAYER = {
    "participant_ids": ["{user_id}"],
    "shift_unit": "days",
    "shift_length": 1,
    "start": "2026-03-02",
}
LEVEL = {"delay_minutes": 5, "targets": [{"type": "user", "id": "{user_id}"}]}
NESTED_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/teams/{team_id}/members"): {"user_id": "{viewer_id}"},
    ("POST", "/api/v1/incidents/{key}/status"): {"status": "fixing"},
    ("POST", "/api/v1/incidents/{key}/handover"): {"to_user_id": "{colleague_id}"},
    ("POST", "/api/v1/incidents/{key}/participants"): {"user_id": "{viewer_id}"},
    ("POST", "/api/v1/incidents/{key}/notes"): {"text": "x"},
    ("PUT", "/api/v1/incidents/{key}/timeline/{event_id}/star"): {"starred": True},
    ("POST", "/api/v1/incidents/{key}/pages"): {"targets": [{"kind": "user", "id": "{user_id}"}]},
    ("POST", "/api/v1/alerts/{alert_id}/attach"): {"incident_key": "{key}"},
    ("PATCH", "/api/v1/incidents/{key}/postmortem"): {"base_version": 1, "fault": "x"},
    ("POST", "/api/v1/incidents/{key}/postmortem/status"): {"status": "in_review"},
    ("PUT", "/api/v1/incidents/{key}/postmortem/owner"): {"owner_id": "{colleague_id}"},
    ("POST", "/api/v1/incidents/{key}/postmortem/findings/dismiss"): {
        "section": "fault",
        "text": "x",
    },
    ("PUT", "/api/v1/services/{service_id}/alert-rules"): {"rules": []},
    ("POST", "/api/v1/schedules/{schedule_id}/layers"): LAYER,
    ("PUT", "/api/v1/schedules/{schedule_id}/layers/{layer_id}"): LAYER,
    ("PUT", "/api/v1/schedules/{schedule_id}/layer-order"): {"layer_ids": []},
    ("POST", "/api/v1/schedules/{schedule_id}/overrides"): {
        "user_id": "{user_id}",
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T10:00:00Z",
    },
    ("PUT", "/api/v1/escalation-policies/{policy_id}/levels"): {"levels": []},
    ("POST", "/api/v1/escalation-policies/{policy_id}/levels"): LEVEL,
    ("PUT", "/api/v1/escalation-policies/{policy_id}/levels/{level_id}"): LEVEL,
    ("PUT", "/api/v1/escalation-policies/{policy_id}/level-order"): {"level_ids": []},
    ("PUT", "/api/v1/services/{service_id}/escalation-policy"): {"escalation_policy_id": None},
    ("POST", "/api/v1/status-pages/{page_id}/groups"): {"name": "Core"},
    ("POST", "/api/v1/status-pages/{page_id}/components"): {"name": "API"},
    ("POST", "/api/v1/status-pages/{page_id}/components/{component_id}/uptime"): {
        "days": [{"date": "2026-02-20", "outage_minutes": 3}]
    },
    ("POST", "/api/v1/status-pages/{page_id}/incidents"): {"name": "Down", "body": "x"},
    ("POST", "/api/v1/status-pages/{page_id}/incidents/{incident_id}/updates"): {
        "status": "identified",
        "body": "x",
    },
    ("POST", "/api/v1/status-pages/{page_id}/maintenances"): {
        "name": "Upgrade",
        "scheduled_for": "2026-03-03T09:00:00Z",
        "scheduled_until": "2026-03-03T10:00:00Z",
        "body": "x",
    },
    ("POST", "/api/v1/status-pages/{page_id}/maintenances/{maintenance_id}/updates"): {
        "status": "in_progress",
        "body": "x",
    },
    ("POST", "/api/v1/status-pages/{page_id}/subscribers"): {"address": "reader@example.com"},
    ("POST", "/api/v1/incidents/{key}/room/messages"): {"body": "x"},
    ("PUT", "/api/v1/incidents/{key}/state-document"): {"body": "x", "base_version": 0},
    ("POST", "/api/v1/users/{user_id}/contact-methods"): {
        "channel": "email",
        "address": "moved@example.com",
    },
    ("PUT", "/api/v1/users/{user_id}/notification-rules"): {"rules": []},
}


def nested_routes(app: FastAPI) -> list[tuple[str, str]]:
    """/api/ routes with something under a parameter: /services/{service_id}/alert-rules."""
    return [(m, p) for m, p in http_routes(app) if is_api(p) and re.search(r"\}/", p)]


def _filled(body: Any, ids: dict[str, Any]) -> Any:
    if isinstance(body, dict):
        return {k: _filled(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_filled(v, ids) for v in body]
    if isinstance(body, str) and re.fullmatch(r"\{\w+\}", body):
        return ids[body[1:-1]]
    return body


def _required_fields(schema: dict[str, Any], method: str, path: str) -> list[str]:
    operation = schema["paths"].get(path, {}).get(method.lower(), {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = body.get("schema", {}).get("$ref", "")
    return schema["components"]["schemas"][ref.split("/")[-1]].get("required", []) if ref else []


def test_under_a_missing_parent_every_route_answers_404(app, api_as, admin, world, db):
    """What hangs under a service, incident, schedule... is gone with it: 404, not an empty
    200 that reads as "no alert rules", and nothing written."""
    ada = api_as(admin)
    page = ada.post("/api/v1/status-pages", json={"slug": "shop", "name": "Shop"}).json()
    schedule = ada.post("/api/v1/schedules", json={"name": "Primary"}).json()
    policy = ada.post("/api/v1/escalation-policies", json={"name": "Payments"}).json()
    ids = {**world, "page_id": page["id"], "schedule_id": schedule["id"], "policy_id": policy["id"]}
    routes = nested_routes(app)
    schema = app.openapi()
    needs_body = {(m, p) for m, p in routes if _required_fields(schema, m, p)}
    assert needs_body <= set(NESTED_BODIES), "give NESTED_BODIES a body for these"
    before = snapshot(db)
    problems = []
    for method, path in routes:
        parent = re.search(r"\{(\w+)\}", path).group(1)
        missing = "INC-999999" if parent == "key" else MISSING_ID
        url = concrete(path, {**ids, parent: missing})
        body = _filled(NESTED_BODIES.get((method, path), {}), ids)
        response = ada.request(method, url, json=body if method != "GET" else None)
        if response.status_code != 404:
            problems.append(f"{method} {path}: {response.status_code} {response.text[:80]}")
    assert not problems, "\n".join(problems)
    assert snapshot(db) == before
    assert len(routes) >= 40


def test_a_removed_service_has_no_alert_rules(api_as, admin, world):
    ada = api_as(admin)
    rules = f"/api/v1/services/{world['service_id']}/alert-rules"
    assert ada.get(rules).status_code == 200
    assert ada.delete(f"/api/v1/services/{world['service_id']}").status_code in (200, 204)
    assert_error(ada.get(rules), 404, "not_found")


# ---------------------------------------------------------------- what the API documents


def test_the_openapi_document_describes_the_errors_as_answered(app, api_as, admin):
    """Generated clients read the error shape from the document: {"error": {...}}, not the
    {"detail": [...]} FastAPI would document by default."""
    schema = api_as(admin).get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(schema)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message", "field"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            wanted = {"/v2/enqueue": {"413", "429"}, "/readyz": {"503"}}.get(path, {"404"})
            if is_api(path):
                wanted = {"400", "401", "403", "404", "409", "422", "429"}
                wanted |= {"413"} if method in ("post", "put", "patch") else set()
            assert wanted <= set(responses), f"{method} {path}: {sorted(responses)}"
            shape = "PagerDutyError" if path == "/v2/enqueue" else "Error"
            for status in wanted:
                body = responses[status]["content"]["application/json"]["schema"]
                assert body == {"$ref": f"#/components/schemas/{shape}"}, (method, path)
    # ...and a real refusal has that shape.
    refused = api_as(admin).post("/api/v1/services", json={"name": ""})
    assert_error(refused, 422, "invalid", "name")


def test_a_405_names_every_method_the_path_answers(app, client):
    """Starlette's 405 lists the methods of the first route that matched the path only."""
    served: dict[str, set[str]] = {}
    for method, path in http_routes(app):
        served.setdefault(path, set()).add(method)
    for route in served_routes(app):
        if route.kind == "http" and "HEAD" in route.methods:
            served[route.path].add("HEAD")
    for path, methods in served.items():
        other = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in methods)
        response = client.request(other, concrete(path), headers=SCRIPT)
        assert response.status_code == 405, (other, path, response.status_code)
        assert set(response.headers["allow"].split(", ")) == methods, (other, path)


# ---------------------------------------------------------------- every operation, every role

# What a responder may not do on the API: running Tocsin (people, teams, the service catalogue,
# the audit log) and the status pages' own settings are an admin's. Read from the route table
# below, so a new /api/ route that refuses responders must be added here, where a reviewer
# sees it (and one that should refuse them but does not shows up as missing).
RESPONDER_REFUSED = {
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("POST", "/api/v1/teams"),
    ("PATCH", "/api/v1/teams/{team_id}"),
    ("DELETE", "/api/v1/teams/{team_id}"),
    ("POST", "/api/v1/teams/{team_id}/members"),
    ("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/services"),
    ("PATCH", "/api/v1/services/{service_id}"),
    ("DELETE", "/api/v1/services/{service_id}"),
    ("POST", "/api/v1/products"),
    ("PATCH", "/api/v1/products/{product_id}"),
    ("DELETE", "/api/v1/products/{product_id}"),
    ("PATCH", "/api/v1/status-pages/{page_id}"),
    ("DELETE", "/api/v1/status-pages/{page_id}"),
    ("POST", "/api/v1/status-pages/{page_id}/groups"),
    ("PATCH", "/api/v1/status-pages/{page_id}/groups/{group_id}"),
    ("DELETE", "/api/v1/status-pages/{page_id}/groups/{group_id}"),
    ("POST", "/api/v1/status-pages/{page_id}/components"),
    ("POST", "/api/v1/status-pages/{page_id}/components/{component_id}/uptime"),
    ("DELETE", "/api/v1/status-pages/{page_id}/components/{component_id}"),
    ("DELETE", "/api/v1/status-pages/{page_id}/incidents/{incident_id}"),
    ("DELETE", "/api/v1/status-pages/{page_id}/subscribers/{subscriber_id}"),
    ("PATCH", "/api/v1/stakeholder-channels/{channel_id}"),
    ("DELETE", "/api/v1/stakeholder-channels/{channel_id}"),
}
# Refused to anyone but the person concerned, admins included: only the one asked to take
# over answers a handover; nobody gives themselves another role through /me.
REFUSED_TO_OTHERS = {
    ("POST", "/api/v1/incidents/{key}/handover/accept"),
    ("POST", "/api/v1/incidents/{key}/handover/decline"),
    ("PATCH", "/api/v1/me"),
}


def test_every_api_operation_answers_each_role_as_its_rights_say(
    app, api_as, admin, responder, viewer, world, db
):
    """Anonymous: 401. Viewer: reads, changes nothing but their own tokens. Responder: all
    but RESPONDER_REFUSED. Admin: everything. Nobody gets a 5xx; every refusal is the one
    error shape. Generated from the route table: a new route is tried the day it lands."""
    ada = api_as(admin)
    page = ada.post("/api/v1/status-pages", json={"slug": "shop", "name": "Shop"}).json()
    ids = {**world, "page_id": page["id"]}
    attempts = {**api_attempts(world), **NESTED_BODIES}
    clients = {
        "anonymous": TestClient(app, raise_server_exceptions=False),
        "viewer": api_as(viewer),
        "responder": api_as(responder),
        "admin": ada,
    }
    problems: list[str] = []
    refused_responder: set[tuple[str, str]] = set()
    operations = [(m, p) for m, p in http_routes(app) if is_api(p)]
    # Reads before writes, removals last, so that each write still finds what it changes.
    operations.sort(key=lambda op: ({"GET": 0, "DELETE": 2}.get(op[0], 1), op[1]))
    with closing(clients["anonymous"]):
        for method, path in operations:
            body = _filled(attempts.get((method, path), {}), ids)
            for role, client in clients.items():
                answer = client.request(
                    method, concrete(path, ids), json=body if method != "GET" else None
                )
                status = answer.status_code
                cell = f"{method} {path} as {role}: {status} {answer.text[:100]}"
                if status >= 500:
                    problems.append(cell)
                    continue
                if status >= 400:
                    try:
                        assert_error(answer, status)
                    except AssertionError:
                        problems.append(f"{cell} (not the error shape)")
                if role == "anonymous" and status != 401:
                    problems.append(cell)
                elif role == "viewer" and answer.is_success and method != "GET":
                    if (method, path) not in VIEWER_MAY and not path.startswith("/api/v1/me"):
                        problems.append(cell)
                elif role == "responder" and status == 403:
                    refused_responder.add((method, path))
                elif (
                    role == "admin"
                    and status in (401, 403)
                    and (method, path) not in REFUSED_TO_OTHERS
                ):
                    problems.append(cell)
    assert not problems, "\n".join(problems)
    unexpected = refused_responder - RESPONDER_REFUSED - REFUSED_TO_OTHERS
    assert not unexpected, f"responders refused, not in RESPONDER_REFUSED: {sorted(unexpected)}"
    missing = RESPONDER_REFUSED - refused_responder
    assert not missing, f"responders let through: {sorted(missing)}"
    assert len(operations) >= 140


def test_outside_its_circle_a_restricted_incident_answers_as_one_that_does_not_exist(
    app, api_as, responder, viewer, make_user, world, db
):
    """Every /api/ operation naming an incident, tried by a viewer and a responder who are not
    in a restricted incident's circle, with its key and with a key no incident has: the same
    status and the same words (the key aside), so not even its existence shows."""
    rita = api_as(responder)
    restricted = rita.post(
        "/api/v1/incidents",
        json={"summary": "Payroll data leak", "severity": "SEV1", "restricted": True},
    ).json()["key"]
    missing = "INC-999999"
    otto = make_user(Role.RESPONDER, name="Otto Outsider")
    outsiders = {"viewer": api_as(viewer), "responder": api_as(otto)}
    attempts = {**api_attempts(world), **NESTED_BODIES}
    naming = [
        (m, p)
        for m, p in http_routes(app)
        if is_api(p) and ("{key}" in p or "{key}" in json.dumps(attempts.get((m, p), {})))
    ]
    before = snapshot(db)
    differences = []
    for method, path in naming:
        for who, outsider in outsiders.items():
            answers = []
            for key in (restricted, missing):
                ids = {**world, "key": key}
                body = _filled(attempts.get((method, path), {}), ids)
                answer = outsider.request(
                    method, concrete(path, ids), json=body if method != "GET" else None
                )
                answers.append((answer.status_code, answer.text.replace(key, "KEY")))
            if answers[0] != answers[1]:
                differences.append(f"{method} {path} as {who}: {answers[0]} vs {answers[1]}")
    assert not differences, "\n".join(differences)
    assert snapshot(db) == before
    assert len(naming) >= 20
