"""Bad input on every /api/v1 endpoint: a 4xx in the one error shape, and nothing written.

The cases share one world (people, a team, a service, a product, an incident in each
status) built once per database. A refused request must leave every row of every table
as it was, so the world never changes and a case costs one request and one snapshot.

The tables list each endpoint explicitly; `test_every_endpoint_is_in_the_tables` fails
when a route of these routers has none. The property tests at the end throw random
bodies and query strings at every /api/v1 route the app has, and run last: they write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Strict

from tests.conftest import _empty_tables, assert_error
from tocsin.app import create_app
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.config import Settings
from tocsin.db import Database
from tocsin.incidents.workflow import TRANSITIONS, Status
from tocsin.tables import metadata

UNKNOWN = 999_999
NUL = "before\x00after"
MISSING = object()  # a field left out

# ---------------------------------------------------------------- the world


@dataclass(frozen=True)
class Ref:
    """An id from the world, filled in when the request is sent: Ref("bob")."""

    name: str


@dataclass
class World:
    database: Database
    app: Any
    client: TestClient  # one, so the app's lifespan runs once
    tokens: dict[str, str]  # API tokens by person
    ids: dict[str, Any]  # ada, rita, bob, vic, ina, team, service, product, token, event, key
    keys: dict[Status, str]  # an incident in each status; rita manages them all
    baseline: dict[str, str] = field(default_factory=dict)
    fuzz: dict[tuple[str, str], Any] = field(default_factory=dict)  # strategies, per route


POSTMORTEM = {
    "five_whys": [{"why": "Why did checkout fail?", "answer": "A bad release."}],
    "root_cause": "Release 42 went out without its migration.",
    "root_cause_category": "Change",
}


def _build_world(database: Database, database_url: str, stack: ExitStack) -> World:
    _empty_tables(database)
    settings_ = Settings(database_url=database_url, run_engine=False, base_url="http://testserver")
    app = create_app(settings_, database)
    ids: dict[str, Any] = {}
    tokens: dict[str, str] = {}
    people = [
        ("ada", Role.ADMIN),
        ("rita", Role.RESPONDER),
        ("bob", Role.RESPONDER),
        ("vic", Role.VIEWER),
        ("ina", Role.RESPONDER),  # deactivated below
    ]
    with database.begin() as session:
        for name, role in people:
            # Without a password: these people only use API tokens, and argon2 is slow on purpose.
            user = User(email=f"{name}@example.com", name=name.title(), role=role.value)
            session.add(user)
            session.flush()
            ids[name] = user.id
            tokens[name] = auth.create_token(session, user, "tests")[1]
    world = World(database, app, stack.enter_context(TestClient(app)), tokens, ids, {})

    def ok(who: str, method: str, path: str, body: dict[str, Any], status: int = 200) -> Any:
        response = send(world, method, path, who=who, json=body)
        assert response.status_code == status, response.text
        return response.json()

    ok("ada", "PATCH", "/users/{ina}", {"is_active": False})
    team = {"name": "Ops", "member_ids": [Ref("rita")]}
    ids["team"] = ok("ada", "POST", "/teams", team, 201)["id"]
    service = {"name": "payments", "team_id": Ref("team")}
    ids["service"] = ok("ada", "POST", "/services", service, 201)["id"]
    ids["product"] = ok("ada", "POST", "/products", {"name": "Checkout"}, 201)["id"]
    ok("ada", "POST", "/products", {"name": "Écran"}, 201)  # a name beyond ASCII
    ids["token"] = ok("ada", "POST", "/tokens", {"name": "spare"}, 201)["id"]
    for status in Status:
        body = {"summary": f"Checkout is {status.value}", "severity": "SEV2"}
        body |= {"service_id": Ref("service"), "product_ids": [Ref("product")]}
        world.keys[status] = ok("rita", "POST", "/incidents", body, 201)["key"]
    moves = [
        (Status.FIXING, {"status": "fixing"}),
        (Status.RESOLVED, {"status": "fixing"}),
        (Status.RESOLVED, {"status": "resolved", "resolution_summary": "Rolled back"}),
        (Status.CLOSED, {"status": "fixing"}),
        (Status.CLOSED, {"status": "resolved", "resolution_summary": "Rolled back"}),
        (Status.CLOSED, "postmortem approved"),
        (Status.CLOSED, {"status": "closed"}),
        (Status.CANCELLED, {"status": "cancelled", "reason": "Synthetic check misfired"}),
    ]
    for status, move in moves:
        if move == "postmortem approved":  # a major incident closes once it is approved
            path = f"/incidents/{world.keys[status]}/postmortem"
            ok("rita", "PATCH", path, {"base_version": 1, **POSTMORTEM})
            ok("rita", "POST", f"{path}/status", {"status": "in_review"})
            ok("ada", "POST", f"{path}/status", {"status": "approved"})
            continue
        ok("rita", "POST", f"/incidents/{world.keys[status]}/status", move)
    ids["key"] = world.keys[Status.OPEN]
    ids["event"] = ok("rita", "POST", "/incidents/{key}/notes", {"text": "DB at 100%"}, 201)["id"]
    world.baseline = snapshot(database)
    return world


@pytest.fixture(scope="module")
def world(shared_database: Database, database_url: str) -> Iterator[World]:
    with ExitStack() as stack:
        yield _build_world(shared_database, database_url, stack)


def resolve(value: Any, world: World) -> Any:
    if isinstance(value, Ref):
        return world.ids[value.name]
    if isinstance(value, list):
        return [resolve(v, world) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, world) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- nothing written

# Bookkeeping a request may touch without changing anything someone made.
NOT_COMPARED = {("api_tokens", "last_used_at")}


def _all_rows_query(dialect: str) -> str:
    """One query for every row of every table, each table as one JSON array in sorted order."""
    tables = []
    for table in metadata.sorted_tables:
        columns = ", ".join(
            f'"{c.name}"' for c in table.columns if (table.name, c.name) not in NOT_COMPARED
        )
        if dialect == "postgresql":
            rows = f'SELECT json_build_array({columns}) AS r FROM "{table.name}"'
            tables.append(
                f"(SELECT coalesce(json_agg(r ORDER BY r::text), '[]')::text FROM ({rows}) t)"
            )
        else:
            rows = f'SELECT json_array({columns}) AS r FROM "{table.name}" ORDER BY r'
            tables.append(f"(SELECT json_group_array(r) FROM ({rows}))")
    return "SELECT " + ", ".join(tables)


def snapshot(database: Database) -> dict[str, str]:
    """Every row of every table, in one round trip."""
    query = _all_rows_query(database.engine.dialect.name)
    with database.engine.connect() as connection:
        row = connection.exec_driver_sql(query).one()
    return {table.name: rows for table, rows in zip(metadata.sorted_tables, row, strict=True)}


@contextmanager
def nothing_written(world: World) -> Iterator[None]:
    """Every table is as the world was built."""
    try:
        yield
    finally:
        before, world.baseline = world.baseline, snapshot(world.database)
    changed = [name for name in before if before[name] != world.baseline[name]]
    assert not changed, f"a refused request changed {changed}"


def assert_refused(response, status: int, code: str | None = None, field_: str | None = None):
    """The one error shape; `field_` also matches an item of a list ("product_ids.0")."""
    error = assert_error(response, status, code)
    if field_ is not None:
        assert (error["field"] or "").split(".")[0] == field_, error
    return error


def send(world: World, method: str, path: str, *, who: str = "ada", **kwargs: Any):
    """`path` is under /api/v1, with world ids in {placeholders}; Refs in `json` are filled in."""
    if "json" in kwargs:
        kwargs["json"] = resolve(kwargs["json"], world)
    headers = {"Authorization": f"Bearer {world.tokens[who]}", **kwargs.pop("headers", {})}
    url = "/api/v1" + path.format(**world.ids)
    return world.client.request(method, url, headers=headers, **kwargs)


def _label(value: Any) -> str:
    if value is MISSING:
        return "missing"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} chars)"


# ---------------------------------------------------------------- bodies

# Every endpoint that takes a body, with a body it would accept: a bad case spoils one part,
# so a bad value that slipped through would write, and `nothing_written` would say so.
BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "declare incident": ("POST", "/incidents", {"summary": "Backlog", "severity": "SEV3"}),
    "update incident": ("PATCH", "/incidents/{key}", {"summary": "Checkout down"}),
    "change status": ("POST", "/incidents/{key}/status", {"status": "fixing"}),
    "set roles": (
        "PUT",
        "/incidents/{key}/roles",
        {"tech_lead_ids": [Ref("bob")], "communications_manager_id": Ref("bob")},
    ),
    "request handover": ("POST", "/incidents/{key}/handover", {"to_user_id": Ref("bob")}),
    "add participant": ("POST", "/incidents/{key}/participants", {"user_id": Ref("vic")}),
    "add note": ("POST", "/incidents/{key}/notes", {"text": "Failover started"}),
    "say in the room": ("POST", "/incidents/{key}/room/messages", {"body": "Rolling back"}),
    "star event": ("PUT", "/incidents/{key}/timeline/{event}/star", {"starred": True}),
    "page responders": (
        "POST",
        "/incidents/{key}/pages",
        {"targets": [{"kind": "user", "id": Ref("bob")}], "message": "need you"},
    ),
    "create service": ("POST", "/services", {"name": "search", "team_id": Ref("team")}),
    "update service": ("PATCH", "/services/{service}", {"name": "pay", "team_id": Ref("team")}),
    "create product": ("POST", "/products", {"name": "Mobile app"}),
    "update product": ("PATCH", "/products/{product}", {"name": "Checkout v2"}),
    "update me": ("PATCH", "/me", {"name": "Ada L.", "time_zone": "Europe/Berlin"}),
    "create user": ("POST", "/users", {"email": "new@example.com", "name": "New"}),
    "update user": ("PATCH", "/users/{bob}", {"name": "Bob B.", "role": "viewer"}),
    "create team": ("POST", "/teams", {"name": "Payments", "member_ids": [Ref("bob")]}),
    "update team": ("PATCH", "/teams/{team}", {"name": "Ops EU"}),
    "add team member": ("POST", "/teams/{team}/members", {"user_id": Ref("bob")}),
    "create token": ("POST", "/tokens", {"name": "ci"}),
}

JSON = {"content-type": "application/json"}
OVER_A_MEGABYTE = b'{"description": "' + b"x" * 1_000_001 + b'"}'


def _streamed() -> Iterator[bytes]:
    """The same body without a Content-Length, as a streaming client sends it."""
    yield OVER_A_MEGABYTE[:500_000]
    yield OVER_A_MEGABYTE[500_000:]


# How the body is spoilt: (request arguments, status, code)
MALFORMED: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "invalid JSON": ({"content": b'{"name": ', "headers": JSON}, 400, "invalid_json"),
    "a JSON array": ({"json": [{"name": "x"}]}, 422, "invalid"),
    "a JSON string": ({"json": "name"}, 422, "invalid"),
    "no body": ({"content": b"", "headers": JSON}, 422, "missing"),
    "text/plain": ({"content": b"{}", "headers": {"content-type": "text/plain"}}, 415, None),
    "over 1 MB, streamed": ({"content": _streamed, "headers": JSON}, 413, "too_large"),
}


@pytest.mark.parametrize("how", list(MALFORMED))
@pytest.mark.parametrize("endpoint", list(BODIES))
def test_a_malformed_body_is_refused(world, endpoint, how):
    method, path, _body = BODIES[endpoint]
    kwargs, status, code = MALFORMED[how]
    if callable(kwargs.get("content")):
        kwargs = {**kwargs, "content": kwargs["content"]()}
    with nothing_written(world):
        assert_refused(send(world, method, path, **kwargs), status, code)


# Shared by every body endpoint, so shown on one: (request arguments, status, code)
ALSO_MALFORMED = {
    "over 1 MB": ({"content": OVER_A_MEGABYTE, "headers": JSON}, 413, "too_large"),
    "a trailing comma": ({"content": b'{"name": "x",}', "headers": JSON}, 400, "invalid_json"),
    "not UTF-8": ({"content": b'{"name": "\xff"}', "headers": JSON}, 400, None),
    "too deep": ({"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}, 400, None),
    "a huge number literal": (
        {"content": b'{"name": 1' + b"0" * 5000 + b"}", "headers": JSON},
        400,
        None,
    ),
    "a number": ({"content": b"2e400", "headers": JSON}, 422, "invalid"),
    "null": ({"content": b"null", "headers": JSON}, 422, None),
    "no content type": ({"content": b'{"name": "x"}', "headers": {"content-type": ""}}, 415, None),
    "a form": ({"data": {"name": "x"}}, 415, "unsupported_media_type"),
    "NaN": ({"content": b'{"name": "x", "team_id": NaN}', "headers": JSON}, 422, "invalid"),
    "a lone surrogate": ({"content": b'{"name": "\\ud800"}', "headers": JSON}, 422, "invalid"),
}


@pytest.mark.parametrize("how", list(ALSO_MALFORMED))
def test_other_malformed_bodies_are_refused(world, how):
    kwargs, status, code = ALSO_MALFORMED[how]
    with nothing_written(world):
        assert_refused(send(world, "POST", "/services", **kwargs), status, code)


@pytest.mark.parametrize("endpoint", list(BODIES))
def test_an_unknown_field_is_named(world, endpoint):
    method, path, body = BODIES[endpoint]
    with nothing_written(world):
        response = send(world, method, path, json={**body, "colour": "red"})
        error = assert_refused(response, 422, "unknown_field", "colour")
        assert "colour" in error["message"]


# ---------------------------------------------------------------- field values

# Bad values by kind of field. Strings have a maximum (and PostgreSQL refuses NUL); ids are
# positive and below 2**53, so PostgreSQL's bigint never overflows.
TITLE = ["", "x" * 201, NUL, 42]
NAME = ["   ", "x" * 121, NUL, 42]
TEXT = ["x" * 20_001, NUL, ["x"]]
# JSON's types are taken as they are: true is no id, "7" no number, 1 and "true" no yes/no.
ID = [0, -1, 2**63, 2**70, "abc", True, "7"]
BOOL = ["maybe", 2, 1, "true"]
WHEN = [
    "yesterday",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    10**20,
    "9999-12-31T23:59:00Z",  # a time every zone cannot show
    "1999-12-31T23:59:00Z",
    1_772_442_000,  # seconds since 1970 (2026-03-02): a time is ISO 8601 text
]
WEB_ADDRESS = ["javascript:alert(1)", "meet.example.com", "https://", "https://x" * 60, NUL, 42]
EMAIL = [
    "not-an-email",
    "x" * 243 + "@example.com",  # 255 characters
    "İ" * 200 + "@example.com",  # 212 characters, but 412 once lowercased
    "nul\x00@example.com",
    42,
]
PASSWORD_ = ["too-short", "x" * 201, "correct-horse\x00battery"]
TIME_ZONE = ["Mars/Olympus_Mons", "x" * 65, "UTC\x00", 42]
SEVERITY = ["SEV4", 2]
STATUS = ["done", 1]
ROLE = ["root", 1]


def id_list(limit: int) -> list[Any]:
    return ["1", [0], [2**63], [2**70], ["abc"], [True], list(range(1, limit + 2))]


@dataclass(frozen=True)
class F:
    """A body field: the bad values of its kind; whether it must be there; whether null is ok."""

    bad: list[Any]
    required: bool = False
    nullable: bool = False


FIELDS: dict[str, dict[str, F]] = {
    "declare incident": {
        "summary": F(TITLE, required=True),
        "severity": F(SEVERITY, required=True),
        "description": F(TEXT),
        "service_id": F(ID, nullable=True),
        "product_ids": F(id_list(100)),
        "restricted": F(BOOL),
        "impact_started_at": F(WHEN, nullable=True),
        "detected_at": F(WHEN, nullable=True),
        "video_url": F(WEB_ADDRESS),
    },
    "update incident": {
        "summary": F(TITLE, nullable=True),
        "description": F(TEXT, nullable=True),
        "severity": F(SEVERITY, nullable=True),
        "service_id": F(ID, nullable=True),
        "product_ids": F(id_list(100), nullable=True),
        "restricted": F(BOOL, nullable=True),
        "impact_started_at": F(WHEN, nullable=True),
        "detected_at": F(WHEN, nullable=True),
        "video_url": F(WEB_ADDRESS, nullable=True),
    },
    "change status": {
        "status": F(STATUS, required=True),
        "resolution_summary": F(TEXT),
        "reason": F(TEXT),
    },
    "set roles": {
        "tech_lead_ids": F(id_list(100), nullable=True),
        "communications_manager_id": F(ID, nullable=True),
    },
    "request handover": {"to_user_id": F(ID, required=True), "note": F(TEXT)},
    "add participant": {"user_id": F(ID, required=True)},
    "add note": {"text": F(["", " \n ", *TEXT], required=True), "starred": F(BOOL)},
    "say in the room": {"body": F(["", " \n ", "x" * 4001, NUL, 42], required=True)},
    "star event": {"starred": F(BOOL, required=True)},
    "create service": {
        "name": F(NAME, required=True),
        "description": F(TEXT),
        "team_id": F(ID, nullable=True),
    },
    "update service": {
        "name": F(NAME, nullable=True),
        "description": F(TEXT, nullable=True),
        "team_id": F(ID, nullable=True),
    },
    "create product": {"name": F(NAME, required=True), "description": F(TEXT)},
    "update product": {"name": F(NAME, nullable=True), "description": F(TEXT, nullable=True)},
    "update me": {
        "name": F(NAME, nullable=True),
        "time_zone": F(TIME_ZONE, nullable=True),
        "password": F(PASSWORD_, nullable=True),
        "role": F(ROLE, nullable=True),
        "is_active": F(BOOL, nullable=True),
    },
    "create user": {
        "email": F(EMAIL, required=True),
        "name": F(NAME, required=True),
        "time_zone": F(TIME_ZONE),
        "role": F(ROLE),
        "password": F(PASSWORD_, nullable=True),
    },
    "update user": {
        "name": F(NAME, nullable=True),
        "time_zone": F(TIME_ZONE, nullable=True),
        "role": F(ROLE, nullable=True),
        "is_active": F(BOOL, nullable=True),
        "password": F(PASSWORD_, nullable=True),
    },
    "create team": {
        "name": F(NAME, required=True),
        "description": F(TEXT),
        "member_ids": F(id_list(500)),
    },
    "update team": {"name": F(NAME, nullable=True), "description": F(TEXT, nullable=True)},
    "add team member": {"user_id": F(ID, required=True)},
    "create token": {"name": F(NAME, required=True)},
}


def _field_cases() -> Iterator[Any]:
    for endpoint, fields in FIELDS.items():
        for name, spec in fields.items():
            values = [*spec.bad, *([] if spec.nullable else [None])]
            values += [MISSING] if spec.required else []
            for value in values:
                yield pytest.param(endpoint, name, value, id=f"{endpoint}-{name}-{_label(value)}")


@pytest.mark.parametrize(("endpoint", "name", "value"), list(_field_cases()))
def test_a_bad_field_value_is_refused_and_named(world, endpoint, name, value):
    method, path, valid = BODIES[endpoint]
    body = {k: v for k, v in valid.items() if k != name}
    if value is not MISSING:
        body[name] = value
    with nothing_written(world):
        code = "missing" if value is MISSING else "invalid"
        assert_refused(send(world, method, path, json=body), 422, code, name)


# Numbers and yes/no of the wrong JSON type on endpoints outside the tables above: refused
# and named, never converted (`true` once stored a rate limit of 1).
STRICT_TYPES = [
    (
        "POST",
        "/integrations",
        {"service_id": Ref("service"), "name": "pd", "kind": "pagerduty"},
        "rate_limit_per_minute",
        [True, "60", 60.5],
    ),
    (
        "POST",
        "/integrations",
        {
            "service_id": Ref("service"),
            "name": "hb",
            "kind": "heartbeat",
            "heartbeat_interval_seconds": 60,
        },
        "heartbeat_grace_seconds",
        [False, "30"],
    ),
    ("POST", "/escalation-policies", {"name": "Payments"}, "repeat_count", [True, "2"]),
    ("POST", "/status-pages", {"slug": "shop", "name": "Shop"}, "public", [1, "false", "yes"]),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "value"),
    [
        pytest.param(m, p, b, n, v, id=f"{p}-{n}-{_label(v)}")
        for m, p, b, n, values in STRICT_TYPES
        for v in values
    ],
)
def test_json_types_are_taken_as_they_are(world, method, path, body, name, value):
    with nothing_written(world):
        assert_refused(send(world, method, path, json={**body, name: value}), 422, "invalid", name)


def _loose_fields(model: type[BaseModel], seen: set[type]) -> Iterator[str]:
    """Numbers and yes/no fields of `model` (and the models inside it) that would convert."""
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        for kind in _kinds(info.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _loose_fields(kind, seen)
            elif kind in (int, bool, float) and not _strict(info.metadata, info.annotation):
                yield f"{model.__name__}.{name}"


def _kinds(annotation: Any) -> Iterator[Any]:
    yield annotation
    for argument in get_args(annotation):
        yield from _kinds(argument)


def _strict(metadata: list[Any], annotation: Any) -> bool:
    found = [*metadata, *(m for a in _kinds(annotation) for m in getattr(a, "__metadata__", ()))]
    return any(isinstance(m, Strict) and m.strict for m in found)


def test_every_request_body_takes_numbers_and_yes_no_as_json_gives_them(world):
    """Every body of every route (read from the app): its integers and booleans are strict,
    so a route added later cannot bring back `true` stored as 1."""
    loose, bodies = [], 0
    for context in iter_route_contexts(world.app.routes):
        field_ = getattr(context.original_route, "body_field", None)
        if field_ is None:
            continue
        bodies += 1
        model = field_.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            loose += [f"{context.path}: {f}" for f in _loose_fields(model, set())]
    assert not loose, loose
    assert bodies >= 60


# ---------------------------------------------------------------- refused changes

# Unknown or unusable ids in a body, conflicts, and changes refused half way (the part
# before the refusal must not land). endpoint: [(status, the field named, body)]
SEV1 = {"summary": "x", "severity": "SEV1"}
RENAMED = {"summary": "Renamed", "severity": "SEV1", "restricted": True}
LEAD = {"tech_lead_ids": [Ref("bob")]}
EARLIER, LATER = "2026-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
REFUSED_CHANGES: dict[str, list[tuple[int, str | None, dict[str, Any]]]] = {
    "declare incident": [
        (422, "service_id", {**SEV1, "service_id": UNKNOWN}),
        (422, "product_ids", {**SEV1, "product_ids": [Ref("product"), UNKNOWN]}),
        (422, "detected_at", {**SEV1, "detected_at": LATER}),
        (422, "impact_started_at", {**SEV1, "impact_started_at": LATER, "detected_at": EARLIER}),
    ],
    "update incident": [
        (422, "product_ids", {**RENAMED, "product_ids": [UNKNOWN]}),
        (422, "service_id", {**RENAMED, "service_id": UNKNOWN}),
        (422, "impact_started_at", {**RENAMED, "impact_started_at": LATER}),
    ],
    "set roles": [
        (422, "tech_lead_ids", {"tech_lead_ids": [Ref("bob"), UNKNOWN]}),
        (422, "tech_lead_ids", {"tech_lead_ids": [Ref("ina")]}),  # deactivated
        (422, "tech_lead_ids", {"tech_lead_ids": [Ref("vic")]}),  # a viewer
        (422, "communications_manager_id", {**LEAD, "communications_manager_id": UNKNOWN}),
        (422, "communications_manager_id", {**LEAD, "communications_manager_id": Ref("vic")}),
    ],
    "request handover": [
        (422, "to_user_id", {"to_user_id": UNKNOWN}),
        (422, "to_user_id", {"to_user_id": Ref("ina")}),
        (422, "to_user_id", {"to_user_id": Ref("vic")}),
        (422, "to_user_id", {"to_user_id": Ref("rita")}),  # already in charge
    ],
    "add participant": [
        (422, "user_id", {"user_id": UNKNOWN}),
        (422, "user_id", {"user_id": Ref("ina")}),
    ],
    "add note": [(422, "text", {"text": " \n\t "})],
    "create service": [
        (422, "team_id", {"name": "search", "team_id": UNKNOWN}),
        (409, "name", {"name": "PAYMENTS"}),
    ],
    "update service": [
        (422, "team_id", {"name": "renamed", "description": "d", "team_id": UNKNOWN})
    ],
    "create product": [(409, "name", {"name": "checkout"})],
    "create user": [(409, "email", {"email": "RITA@example.com", "name": "R"})],
    "update me": [  # the last admin can neither step down nor leave
        (409, None, {"name": "Ada L.", "role": "responder"}),
        (409, None, {"name": "Ada L.", "is_active": False}),
    ],
    "create team": [
        (409, "name", {"name": "OPS"}),
        (422, "member_ids", {"name": "New", "member_ids": [Ref("bob"), UNKNOWN]}),
        (422, "member_ids", {"name": "New", "member_ids": [Ref("ina")]}),
    ],
    "add team member": [
        (422, "user_id", {"user_id": UNKNOWN}),
        (422, "user_id", {"user_id": Ref("ina")}),
    ],
}
REFUSED = [
    pytest.param(endpoint, *case, id=f"{endpoint}-{n}")
    for endpoint, cases in REFUSED_CHANGES.items()
    for n, case in enumerate(cases)
]


@pytest.mark.parametrize(("endpoint", "status", "name", "body"), REFUSED)
def test_a_refused_change_writes_nothing(world, endpoint, status, name, body):
    method, path, _valid = BODIES[endpoint]
    code = {422: "invalid", 409: "conflict"}[status]
    with nothing_written(world):
        assert_refused(send(world, method, path, json=body), status, code, name)


@pytest.mark.parametrize("name", ["Écran", "ÉCRAN", "écran"])
def test_a_taken_name_beyond_ascii_is_a_409(world, name):
    with nothing_written(world):
        assert_refused(send(world, "POST", "/products", json={"name": name}), 409, "conflict")


def test_a_refused_declaration_does_not_use_up_an_incident_number(world):
    body = {"summary": "x", "severity": "SEV1", "product_ids": [UNKNOWN]}
    assert_refused(send(world, "POST", "/incidents", json=body), 422, "invalid", "product_ids")
    newest = send(world, "GET", "/incidents", params={"limit": 1}).json()["items"][0]
    assert newest["key"] == f"INC-{len(Status)}"


# ---------------------------------------------------------------- the workflow

ILLEGAL_MOVES = [
    pytest.param(current, target, id=f"{current.value}->{target.value}")
    for current in Status
    for target in Status
    if target not in TRANSITIONS[current]
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL_MOVES)
def test_an_illegal_move_is_a_409_naming_the_allowed_ones(world, current, target):
    body = {"status": target.value, "resolution_summary": "Fixed", "reason": "False alarm"}
    with nothing_written(world):
        response = send(world, "POST", f"/incidents/{world.keys[current]}/status", json=body)
        error = assert_refused(response, 409, "illegal_transition", "status")
    for allowed in TRANSITIONS[current]:
        assert allowed.value in error["message"]
    if not TRANSITIONS[current]:
        assert "final" in error["message"]


# Moves that need a word of explanation: (the incident's status, body, the field named)
UNEXPLAINED = {
    "resolve without a summary": (Status.FIXING, {"status": "resolved"}, "resolution_summary"),
    "resolve with a blank summary": (
        Status.FIXING,
        {"status": "resolved", "resolution_summary": " \n"},
        "resolution_summary",
    ),
    "cancel without a reason": (Status.OPEN, {"status": "cancelled"}, "reason"),
    "cancel with a blank reason": (Status.FIXING, {"status": "cancelled", "reason": " "}, "reason"),
}


@pytest.mark.parametrize("case", list(UNEXPLAINED))
def test_a_move_without_its_explanation_is_refused(world, case):
    current, body, name = UNEXPLAINED[case]
    path = f"/incidents/{world.keys[current]}/status"
    with nothing_written(world):
        assert_refused(send(world, "POST", path, json=body), 422, "invalid", name)


# Moves with nothing to act on, on the open incident rita manages: (route, who, code)
NOTHING_TO_ACT_ON = {
    "accept a handover nobody offered": ("/handover/accept", "bob", "no_handover"),
    "decline a handover nobody offered": ("/handover/decline", "bob", "no_handover"),
    "withdraw a handover nobody offered": ("/handover/cancel", "rita", "no_handover"),
    "take command of a managed incident": ("/take-command", "bob", None),
}


@pytest.mark.parametrize("case", list(NOTHING_TO_ACT_ON))
def test_a_move_with_nothing_to_act_on_is_a_409(world, case):
    route, who, code = NOTHING_TO_ACT_ON[case]
    with nothing_written(world):
        assert_refused(send(world, "POST", f"/incidents/{{key}}{route}", who=who), 409, code)


# ---------------------------------------------------------------- the path

# Every route with an id in its path: (method, path with {} for that id, a valid body, its name)
ID_PATHS = [
    ("GET", "/services/{}", None, "service_id"),
    ("PATCH", "/services/{}", {"description": "d"}, "service_id"),
    ("DELETE", "/services/{}", None, "service_id"),
    ("GET", "/products/{}", None, "product_id"),
    ("PATCH", "/products/{}", {"description": "d"}, "product_id"),
    ("DELETE", "/products/{}", None, "product_id"),
    ("GET", "/users/{}", None, "user_id"),
    ("PATCH", "/users/{}", {"name": "X"}, "user_id"),
    ("GET", "/teams/{}", None, "team_id"),
    ("PATCH", "/teams/{}", {"description": "d"}, "team_id"),
    ("DELETE", "/teams/{}", None, "team_id"),
    ("POST", "/teams/{}/members", {"user_id": Ref("bob")}, "team_id"),
    ("DELETE", "/teams/{}/members/{rita}", None, "team_id"),
    ("DELETE", "/teams/{team}/members/{}", None, "user_id"),
    ("DELETE", "/tokens/{}", None, "token_id"),
    ("PUT", "/incidents/{key}/timeline/{}/star", {"starred": True}, "event_id"),
    ("POST", "/incidents/{key}/pages/{}/escalate", None, "page_id"),
]
BAD_IDS = ["0", "-1", str(2**63), str(2**70), "abc", "%00"]


def _to(world: World, method: str, path: str, value: str, body: Any):
    filled = path.replace("{}", value, 1)
    return send(world, method, filled, **({} if body is None else {"json": body}))


def _ids(table: list[tuple]) -> list[str]:
    return [f"{method} {path}" for method, path, *_ in table]


@pytest.mark.parametrize("value", BAD_IDS)
@pytest.mark.parametrize(("method", "path", "body", "name"), ID_PATHS, ids=_ids(ID_PATHS))
def test_a_bad_id_in_the_path_is_a_422_naming_it(world, method, path, body, name, value):
    with nothing_written(world):
        assert_refused(_to(world, method, path, value, body), 422, "invalid", name)


@pytest.mark.parametrize(("method", "path", "body", "name"), ID_PATHS, ids=_ids(ID_PATHS))
def test_an_unknown_id_in_the_path_is_a_404(world, method, path, body, name):
    with nothing_written(world):
        assert_refused(_to(world, method, path, str(UNKNOWN), body), 404, "not_found")


# Every route under /incidents/{key}, with a body it would accept.
KEY_PATHS = [
    ("GET", "/incidents/{}", None),
    ("PATCH", "/incidents/{}", {"summary": "x"}),
    ("POST", "/incidents/{}/status", {"status": "fixing"}),
    ("PUT", "/incidents/{}/roles", {"tech_lead_ids": []}),
    ("POST", "/incidents/{}/take-command", None),
    ("POST", "/incidents/{}/handover", {"to_user_id": Ref("bob")}),
    ("POST", "/incidents/{}/handover/accept", None),
    ("POST", "/incidents/{}/handover/decline", None),
    ("POST", "/incidents/{}/handover/cancel", None),
    ("GET", "/incidents/{}/participants", None),
    ("POST", "/incidents/{}/participants", {"user_id": Ref("bob")}),
    ("GET", "/incidents/{}/timeline", None),
    ("POST", "/incidents/{}/notes", {"text": "hello"}),
    ("PUT", "/incidents/{}/timeline/{event}/star", {"starred": True}),
    ("GET", "/incidents/{}/pages", None),
    ("POST", "/incidents/{}/pages", {"targets": [{"kind": "user", "id": Ref("bob")}]}),
    ("POST", "/incidents/{}/pages/1/escalate", None),
]
# Keys that name no incident are a 404; longer than a key can be (20 characters), a 422.
KEYS = [
    ("INC-999999", 404),
    ("INC-0", 404),
    ("%00", 404),
    (str(2**63), 404),
    ("INC-" + str(2**63), 422),
    (str(2**70), 422),
]


@pytest.mark.parametrize(("key", "status"), KEYS, ids=[k for k, _ in KEYS])
@pytest.mark.parametrize(("method", "path", "body"), KEY_PATHS, ids=_ids(KEY_PATHS))
def test_a_key_that_names_no_incident_is_refused(world, method, path, body, key, status):
    code = "not_found" if status == 404 else "invalid"
    with nothing_written(world):
        assert_refused(_to(world, method, path, key, body), status, code, "key")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/incidents/INC-²", None, 404),
        ("/incidents", {"cursor": "²"}, 422),
        ("/incidents", {"q": "²"}, 200),
    ],
    ids=["key", "cursor", "search"],
)
def test_digits_that_are_not_ascii_are_not_taken_for_a_number(world, path, params, status):
    """'²'.isdigit() is true, but int('²') raises."""
    assert send(world, "GET", path, params=params).status_code == status


# ---------------------------------------------------------------- query strings

HUGE = [str(2**53 + 1), str(2**63), str(2**70)]
# (path, query, the parameter the error names)
QUERIES = [
    ("/incidents", {"status": "done"}, "status"),
    ("/incidents", {"status": ["open"] * 6}, "status"),
    ("/incidents", {"severity": "SEV9"}, "severity"),
    ("/incidents", {"severity": ["SEV1"] * 4}, "severity"),
    *[("/incidents", {"service_id": v}, "service_id") for v in ["0", "-1", *HUGE, "abc", NUL]],
    *[("/incidents", {"incident_manager_id": v}, "incident_manager_id") for v in ["0", *HUGE]],
    ("/incidents", {"q": "x" * 201}, "q"),
    ("/incidents", {"q": NUL}, "q"),
    *[("/incidents", {"limit": v}, "limit") for v in ["0", "201", str(2**63), str(2**70), "a"]],
    *[("/incidents", {"cursor": v}, "cursor") for v in ["abc", "x" * 33, NUL, str(2**70), "-1"]],
    ("/incidents/{key}/timeline", {"starred": "maybe"}, "starred"),
    ("/users", {"include_inactive": "maybe"}, "include_inactive"),
    *[("/audit", {"limit": v}, "limit") for v in ["0", "501", str(2**63), str(2**70), "abc"]],
    *[("/audit", {"before_id": v}, "before_id") for v in ["0", "-1", *HUGE, "abc", NUL]],
]


@pytest.mark.parametrize(
    ("path", "params", "name"), QUERIES, ids=[f"{p}?{_label(q)}" for p, q, _ in QUERIES]
)
def test_a_bad_query_parameter_is_a_422_naming_it(world, path, params, name):
    with nothing_written(world):
        assert_refused(send(world, "GET", path, params=params), 422, "invalid", name)


def test_an_unknown_filter_is_named(world):
    response = send(world, "GET", "/incidents", params={"colour": "red"})
    assert_refused(response, 422, "unknown_field", "colour")


@pytest.mark.parametrize(
    "params",
    [
        {"q": str(2**70)},
        {"q": "%_\\"},
        {"q": "İNC-1"},
        {"q": "\ud7ff\U0010ffff"},
        {"service_id": str(UNKNOWN)},
        {"incident_manager_id": str(2**53)},
        {"cursor": "999999999"},
    ],
    ids=_label,
)
def test_odd_but_valid_filters_answer_normally(world, params):
    response = send(world, "GET", "/incidents", params=params)
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- every endpoint is here


def api_routes(app) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every /api/v1 route, read from the app."""
    try:  # newer FastAPI keeps included routers as a tree; this walks it, prefixes applied
        from fastapi.routing import iter_route_contexts

        entries = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:
        entries = [(getattr(r, "path", ""), r) for r in app.routes]
    return [
        (method, path, route)
        for path, route in entries
        if isinstance(route, APIRoute) and (path or "").startswith("/api/v1/")
        for method in sorted(route.methods)
    ]


def _shape(path: str) -> str:
    """'/api/v1/incidents/{key}/timeline/{event_id}/star' -> '/incidents/{}/timeline/{}/star'."""
    parts = path.removeprefix("/api/v1").split("/")
    return "/".join("{}" if part.startswith("{") else part for part in parts)


ISSUE_ROUTERS = ("tocsin.auth.api", "tocsin.catalogue.api", "tocsin.incidents.api")


def test_every_endpoint_is_in_the_tables(world):
    covered = {(method, _shape(path)) for method, path, _body in BODIES.values()}
    covered |= {(method, _shape(path)) for method, path, *_ in [*ID_PATHS, *KEY_PATHS]}
    covered |= {("GET", _shape(path)) for path, *_ in QUERIES}
    missing = [
        f"{method} {path}"
        for method, path, route in api_routes(world.app)
        if route.endpoint.__module__ in ISSUE_ROUTERS
        and (route.body_field or route.dependant.path_params or route.dependant.query_params)
        and (method, _shape(path)) not in covered
    ]
    assert not missing, f"no bad-input cases for {missing}"


# ---------------------------------------------------------------- random input, never a 5xx

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64, UNKNOWN])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", NUL, "x" * 20_001, "SEV1", "fixing", "admin", "UTC", "2026-03-02"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=6,
)
QUERY_VALUES = (
    st.text(max_size=20)
    | st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.sampled_from(["", "0", "true", "SEV2", "open", "INC-1", NUL, "x" * 300])
)


def _field_names(model: Any) -> list[str]:
    is_model = isinstance(model, type) and issubclass(model, BaseModel)
    return list(model.model_fields) if is_model else []


def _names_or_anything(names: list[str]) -> st.SearchStrategy[str]:
    anything = st.text(max_size=8)
    return st.sampled_from(names) | anything if names else anything


# Which world ids fit a path parameter, so random requests get past the lookup.
PATH_IDS = {
    "service_id": ["service"],
    "product_id": ["product"],
    "team_id": ["team"],
    "user_id": ["ada", "rita", "bob", "vic", "ina"],
    "token_id": ["token"],
    "event_id": ["event"],
}


def random_request(
    world: World, method: str, path: str, route: APIRoute
) -> st.SearchStrategy[dict[str, Any]]:
    """Path values, a query string and a body: mostly a valid request with a part spoilt."""
    known = [*world.ids.values(), *world.keys.values()]
    anything = st.text(min_size=1, max_size=12) | st.integers(-(2**70), 2**70).map(str)
    path_values = {}
    for param in route.dependant.path_params:
        fits = [str(world.ids[n]) for n in PATH_IDS.get(param.name, [])]
        fits += list(world.keys.values()) if param.name == "key" else []
        path_values[param.name] = st.sampled_from(fits or ["1"]) | anything
    query_names = []
    for param in route.dependant.query_params:
        query_names += _field_names(param.field_info.annotation) or [param.name]
    query = st.dictionaries(
        _names_or_anything(query_names),
        QUERY_VALUES | st.sampled_from([str(v) for v in known]),
        max_size=4,
    )
    body_names = _field_names(route.body_field.field_info.annotation) if route.body_field else []
    value = JSON_VALUES | st.sampled_from(known) | st.lists(st.sampled_from(known), max_size=3)
    body = JSON_VALUES
    if body_names:
        changes = st.dictionaries(_names_or_anything(body_names), value, max_size=3)
        valid = next(
            (b for m, p, b in BODIES.values() if (m, _shape(p)) == (method, _shape(path))), {}
        )
        body = changes.map(lambda c: {**resolve(valid, world), **c}) | body
    return st.fixed_dictionaries(
        {"path": st.fixed_dictionaries(path_values), "query": query, "body": body}
    )


ROUTES = {
    (method, path): route
    for method, path, route in api_routes(
        create_app(Settings(database_url="sqlite://", run_engine=False), Database("sqlite://"))
    )
}


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.parametrize(("method", "path"), list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_random_input_never_gets_a_5xx(world, method, path, data):
    if (method, path) not in world.fuzz:
        world.fuzz[method, path] = random_request(world, method, path, ROUTES[method, path])
    request = data.draw(world.fuzz[method, path])
    url = path.removeprefix("/api/v1")
    for name, value in request["path"].items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    kwargs: dict[str, Any] = {"params": request["query"]}
    if request["body"] is not None:
        kwargs["json"] = request["body"]
    response = send(world, method, url, **kwargs)
    if response.status_code == 401:  # it revoked its own token: take a new one
        with world.database.begin() as session:
            ada = session.get(User, world.ids["ada"])
            world.tokens["ada"] = auth.create_token(session, ada, "fuzz")[1]
        response = send(world, method, url, **kwargs)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, response.status_code)
