"""Fixtures: database tests run on SQLite and, with TOCSIN_TEST_POSTGRES_URL, on PostgreSQL.

Each test run migrates a fresh database (a new file, or a new PostgreSQL
database) once; each test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

# Real peers for notification tests, available to every test module.
from tests.peers import smtp_server, webhook_receiver  # noqa: F401
from tocsin import migrations
from tocsin.app import create_app
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import UserCreate
from tocsin.config import Settings
from tocsin.db import Database, set_clock
from tocsin.tables import metadata

# The tests' real peers (webhook receivers, Apprise sinks) listen on 127.0.0.1, which Tocsin
# refuses to send to unless the operator's allowlist names it: the tests name it, as an
# operator names an internal chat server. 127.0.0.2 and every other internal address stay
# refused (tests/test_outbound.py). The environment reaches `tocsin` subprocesses too.
os.environ["TOCSIN_OUTBOUND_ALLOW"] = "127.0.0.1"

# Tests assert behaviour, never speed: a loaded machine must not fail an example for taking
# longer than hypothesis's default 200 ms (speed is measured under bench/).
hypothesis_settings.register_profile("tocsin", deadline=None)
hypothesis_settings.load_profile("tocsin")

POSTGRES_URL = os.environ.get("TOCSIN_TEST_POSTGRES_URL")
PASSWORD = "correct-horse-battery"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"tocsin_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with minimal cost: the tests check that passwords are hashed, not how slowly."""
    from argon2 import PasswordHasher

    from tocsin.auth import secrets

    production = secrets._hasher
    secrets._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    secrets._hasher = production


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tocsin.db'}"
        migrations.upgrade(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TOCSIN_TEST_POSTGRES_URL (CI sets it)")
    for url in _postgres_database():
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def shared_database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@cache
def _emptying(url: str, is_sqlite: bool) -> tuple[str, ...]:
    """One round trip that empties every table (children first) and restarts the ids.

    DELETE and setval rather than TRUNCATE: on PostgreSQL a TRUNCATE of fifty tiny tables
    costs hundreds of milliseconds (new files for each), which was most of the suite's time.
    """
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)]
    if is_sqlite:
        restarts = ["DELETE FROM sqlite_sequence"] if _has_sqlite_sequence(url) else []
    else:
        engine = create_engine(url)
        with engine.connect() as connection:
            sequences = connection.execute(
                text("SELECT schemaname, sequencename FROM pg_sequences")
            ).all()
        engine.dispose()
        restarts = (
            ["SELECT " + ", ".join(f'setval(\'"{s}"."{n}"\', 1, false)' for s, n in sequences)]
            if sequences
            else []
        )
    counter = "INSERT INTO counters (name, value) VALUES ('incident', 0)"
    return (*deletes, *restarts, counter)


def _has_sqlite_sequence(url: str) -> bool:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ).first()
    engine.dispose()
    return found is not None


def _empty_tables(database: Database) -> None:
    statements = _emptying(database.url, database.is_sqlite)
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for statement in statements:
                connection.exec_driver_sql(statement)
        else:  # one round trip
            connection.exec_driver_sql("; ".join(statements))


@pytest.fixture
def db(shared_database: Database) -> Iterator[Database]:
    """The test database, emptied before each test."""
    _empty_tables(shared_database)
    yield shared_database


@dataclass
class Clock:
    """The one clock of Tocsin, driven by the test."""

    current: datetime

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> Iterator[Clock]:
    fixed = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    set_clock(fixed)
    yield fixed
    set_clock(None)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_engine=False, base_url="http://testserver")


@pytest.fixture
def app(settings: Settings, db: Database):
    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """An anonymous client."""
    with TestClient(app) as anonymous:
        yield anonymous


@pytest.fixture
def make_user(db: Database) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(
        role: Role | str = Role.RESPONDER, name: str | None = None, email: str | None = None
    ) -> User:
        n = next(counter)
        role = Role(role)
        data = UserCreate(
            email=email or f"{role.value}{n}@example.com",
            name=name or f"{role.value.title()} {n}",
            role=role,
            password=PASSWORD,
        )
        with db.begin() as session:
            user, _ = auth.create_user(session, None, data)
            return user

    return make


@pytest.fixture
def api_as(app, db: Database) -> Iterator[Callable[[User], TestClient]]:
    """A client that sends a fresh API token of `user` with every request."""
    clients: list[TestClient] = []

    def as_user(user: User) -> TestClient:
        with db.begin() as session:
            _token, plaintext = auth.create_token(session, session.get(User, user.id), "tests")
        api = TestClient(app, headers={"Authorization": f"Bearer {plaintext}"})
        clients.append(api)
        return api

    yield as_user
    for api in clients:
        api.close()


@pytest.fixture
def admin(make_user) -> User:
    return make_user(Role.ADMIN, name="Ada Admin")


@pytest.fixture
def responder(make_user) -> User:
    return make_user(Role.RESPONDER, name="Rita Responder")


@pytest.fixture
def viewer(make_user) -> User:
    return make_user(Role.VIEWER, name="Vic Viewer")


def browser_login(client: TestClient, user: User, password: str = PASSWORD) -> str:
    """Logs `client` in through the login form; returns the CSRF token for later forms."""
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": "/incidents"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    settings_page = client.get("/settings")
    return settings_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """The one error shape, with the expected status (and code and field when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    if field is not None:
        assert body["error"]["field"] == field, body
    return body["error"]


def postgres_only(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("needs several processes or row locks: PostgreSQL only")


def url_of(database: Database) -> URL:
    return database.engine.url
