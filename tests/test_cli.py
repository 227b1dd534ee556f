"""The `tocsin` command: users, incidents, migrations and serving, as an operator uses them.

Commands run in-process through Typer's CliRunner against the test database (via
TOCSIN_DATABASE_URL); the first start of `tocsin serve` runs for real in a
subprocess on a port in 18100-18199.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import inspect, make_url, select, text
from typer.testing import CliRunner

from tests.conftest import POSTGRES_URL, _postgres_database
from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.views import LOGIN_CSRF_COOKIE
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.cli import app
from tocsin.config import get_settings
from tocsin.db import Database
from tocsin.deps import SESSION_COOKIE
from tocsin.incidents import service as incidents
from tocsin.incidents.workflow import Severity

Run = Callable[..., Result]


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Points the CLI at a database URL; settings are read afresh around each test."""
    for name in ("TOCSIN_USER", "TOCSIN_ADMIN_EMAIL", "TOCSIN_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def point_at(url: str) -> None:
        monkeypatch.setenv("TOCSIN_DATABASE_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


def _runner(expected: int | None = 0) -> Run:
    runner = CliRunner()

    def run(*args: str, code: int | None = expected, **kwargs) -> Result:
        result = runner.invoke(app, list(args), **kwargs)
        if code is not None:
            assert result.exit_code == code, (
                f"tocsin {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
            )
        # Refusals are messages, never tracebacks.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def tocsin(db: Database, use_database, clock) -> Run:
    """`tocsin ...` against the (emptied) test database; asserts exit status 0 unless told."""
    use_database(db.url)
    return _runner()


@pytest.fixture
def fresh_database_url(request, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with nothing in it, not even the schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'not' / 'yet' / 'tocsin.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TOCSIN_TEST_POSTGRES_URL (CI sets it)")
    yield from _postgres_database()


both_kinds = pytest.mark.parametrize("fresh_database_url", ["sqlite", "postgresql"], indirect=True)


def events_of(db: Database, key: str) -> list[tuple[str, str | None, str]]:
    """(kind, actor name, message) of each timeline event, newest first, as an admin sees them."""
    with db.begin() as session:
        admin = session.scalar(select(User).where(User.role == Role.ADMIN.value))
        return [
            (e.kind, e.actor.name if e.actor else None, e.message)
            for e in incidents.timeline_of(session, admin, key)
        ]


def said(printed: str) -> str:
    """Text without the frame and line wrapping of Typer's usage errors."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", printed).split())


def declared(run: Run, *args: str) -> dict:
    return json.loads(run("incident", "declare", *args, "--json").stdout)


# ---------------------------------------------------------------- users


def test_user_create_prints_the_generated_password_once_and_it_logs_in(tocsin, db):
    result = tocsin("user", "create", "--email", "Rita@Example.com", "--name", "Rita Responder")
    assert "Created Rita Responder <rita@example.com> (responder)." in result.stdout
    passwords = re.findall(r"Password \(shown only this once\): (\S+)", result.stdout)
    assert len(passwords) == 1
    assert result.stdout.count(passwords[0]) == 1
    with db.begin() as session:
        rita = auth.authenticate_password(session, "rita@example.com", passwords[0])
        assert rita.role == "responder"

    chosen = tocsin(
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--name",
        "Ada",
        "--role",
        "admin",
        "--password",
        "correct-horse-battery",
    )
    assert "(admin)" in chosen.stdout
    assert "Password" not in chosen.stdout


def test_user_create_refuses_a_duplicate_email_clearly(tocsin, db):
    tocsin("user", "create", "--email", "rita@example.com", "--name", "Rita")
    again = tocsin("user", "create", "--email", "RITA@example.com", "--name", "Rita 2", code=1)
    assert "A user with email rita@example.com already exists." in again.stderr
    assert again.stdout == ""
    with db.begin() as session:
        assert [u.name for u in auth.list_users(session)] == ["Rita"]


def test_user_create_explains_bad_input(tocsin):
    bad_email = tocsin("user", "create", "--email", "not-an-email", "--name", "X", code=1)
    assert "email: is not an email address" in bad_email.stderr
    bad_zone = tocsin(
        "user",
        "create",
        "--email",
        "x@example.com",
        "--name",
        "X",
        "--time-zone",
        "Mars/Base",
        code=1,
    )
    assert "time_zone: is not a known IANA time zone" in bad_zone.stderr
    short = tocsin(
        "user", "create", "--email", "x@example.com", "--name", "X", "--password", "short", code=1
    )
    assert "password" in short.stderr and "10 characters" in short.stderr


# ---------------------------------------------------------------- incidents


def test_declare_list_and_show_read_well_and_parse_as_json(tocsin, admin):
    printed = tocsin(
        "incident",
        "declare",
        "Checkout fails for EU customers",
        "-s",
        "SEV2",
        "--description",
        "Customers see 500s at payment.\nReported by ACME support.",
    ).stdout
    assert printed.splitlines()[0] == "INC-1  SEV2  open  Checkout fails for EU customers"
    assert f"incident manager: Ada Admin <{admin.email}>" in printed
    assert "service:          unknown" in printed
    assert "declared: 2026-03-02 09:00 UTC" in printed
    assert "    Reported by ACME support." in printed
    assert "next moves:       fixing, cancelled" in printed

    second = declared(tocsin, "Search is slow", "--severity", "SEV3")
    assert second["key"] == "INC-2"
    assert second["severity"] == "SEV3"
    assert second["incident_manager"]["name"] == "Ada Admin"
    assert second["declared_at"].startswith("2026-03-02T09:00:00")

    listing = tocsin("incident", "list").stdout.splitlines()
    assert listing[0].split() == ["KEY", "SEV", "STATUS", "INCIDENT", "MANAGER", "SUMMARY"]
    assert listing[1].split()[:3] == ["INC-2", "SEV3", "open"]
    assert listing[2].split()[:3] == ["INC-1", "SEV2", "open"]
    assert listing[2].endswith("Checkout fails for EU customers")
    as_json = json.loads(tocsin("incident", "list", "--json").stdout)
    assert [i["key"] for i in as_json] == ["INC-2", "INC-1"]
    only_sev2 = json.loads(tocsin("incident", "list", "--severity", "SEV2", "--json").stdout)
    assert [i["key"] for i in only_sev2] == ["INC-1"]
    found = json.loads(tocsin("incident", "list", "-q", "search", "--json").stdout)
    assert [i["key"] for i in found] == ["INC-2"]
    assert tocsin("incident", "list", "--status", "closed").stdout.strip() == "No incidents match."

    shown = tocsin("incident", "show", "inc-1").stdout
    assert "timeline (newest first):" in shown
    assert "2026-03-02 09:00:00  Ada Admin declared INC-1 (SEV2)" in shown
    shown_json = json.loads(tocsin("incident", "show", "INC-1", "--json").stdout)
    assert shown_json["key"] == "INC-1"
    assert shown_json["allowed_transitions"] == ["fixing", "cancelled"]
    assert [e["kind"] for e in shown_json["timeline"]] == ["declared"]
    assert shown_json["timeline"][0]["actor"]["name"] == "Ada Admin"

    missing = tocsin("incident", "show", "INC-99", code=1)
    assert "No incident INC-99." in missing.stderr


def test_update_changes_fields_moves_status_and_adds_a_note(tocsin, admin, db, clock):
    with db.begin() as session:
        ada = session.get(User, admin.id)
        service_id = catalogue.create_service(session, ada, ServiceCreate(name="Payments")).id
        product_id = catalogue.create_product(session, ada, ProductCreate(name="Webshop")).id
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV3")
    clock.advance(minutes=5)
    changed = json.loads(
        tocsin(
            "incident",
            "update",
            "INC-1",
            "--summary",
            "Checkout fails for EU customers",
            "-s",
            "SEV1",
            "--description",
            "All card payments fail.",
            "--service",
            str(service_id),
            "--product",
            str(product_id),
            "--status",
            "fixing",
            "--note",
            "Rolling back release 42",
            "--json",
        ).stdout
    )
    assert changed["summary"] == "Checkout fails for EU customers"
    assert changed["severity"] == "SEV1"
    assert changed["is_major"] is True
    assert changed["description"] == "All card payments fail."
    assert changed["service"]["name"] == "Payments"
    assert [p["name"] for p in changed["products"]] == ["Webshop"]
    assert changed["status"] == "fixing"
    assert changed["acknowledged_at"].startswith("2026-03-02T09:05:00")
    events = events_of(db, "INC-1")
    assert [kind for kind, _, _ in events] == [
        "note",
        "status_changed",
        "field_changed",  # products
        "field_changed",  # service
        "severity_changed",
        "field_changed",  # description
        "field_changed",  # summary
        "declared",
    ]
    assert events[0] == ("note", "Ada Admin", "Rolling back release 42")
    assert "Ada Admin: Rolling back release 42" in tocsin("incident", "show", "INC-1").stdout

    back_to_unknown = json.loads(
        tocsin("incident", "update", "INC-1", "--service", "unknown", "--json").stdout
    )
    assert back_to_unknown["service"] is None

    resolved = tocsin("incident", "update", "INC-1", "--status", "resolved", "-m", "Rolled back")
    assert "resolved:         2026-03-02 09:05 UTC: Rolled back" in resolved.stdout


def test_an_incident_without_incident_manager_reads_well(tocsin, admin, db):
    """Alert rules declare incidents with no reporter and nobody in command yet."""
    with db.begin() as session:
        ada = session.get(User, admin.id)
        service_id = catalogue.create_service(session, ada, ServiceCreate(name="Payments")).id
        incidents.declare_incident_for_alert(
            session, "Error rate above 5%", Severity.SEV2, service_id, "From Alertmanager"
        )
        session.commit()
    listing = tocsin("incident", "list").stdout.splitlines()
    assert listing[1].split()[:5] == ["INC-1", "SEV2", "open", "nobody", "yet"]
    shown = tocsin("incident", "show", "INC-1").stdout
    assert "incident manager: nobody yet" in shown
    assert "reporter:         none (declared from an alert)" in shown
    assert "Tocsin: Declared INC-1 (SEV2) from an alert: Error rate above 5%" in shown
    as_json = json.loads(tocsin("incident", "show", "INC-1", "--json").stdout)
    assert as_json["incident_manager"] is None and as_json["reporter"] is None


def test_update_with_nothing_to_change_says_so(tocsin, admin, db):
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV2")
    nothing = tocsin("incident", "update", "INC-1", code=2)
    assert "Nothing to change" in nothing.stderr
    same = tocsin("incident", "update", "INC-1", "-s", "SEV2")
    assert "Nothing changed: INC-1 already has those values." in same.stderr
    assert len(events_of(db, "INC-1")) == 1
    bad_service = tocsin("incident", "update", "INC-1", "--service", "payments", code=2)
    assert "neither a service id nor 'unknown'" in said(bad_service.stderr)


def test_resolve_needs_a_summary_then_close_makes_it_final(tocsin, admin, db):
    # A minor incident: a major one also needs its postmortem approved (test_postmortems.py).
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV3")
    tocsin("incident", "update", "INC-1", "--status", "fixing")
    unexplained = tocsin("incident", "resolve", "INC-1", code=2)
    assert "Missing option '--summary' / '-m'" in said(unexplained.stderr)
    blank = tocsin("incident", "resolve", "INC-1", "-m", "  ", code=1)
    assert "Moving to resolved needs what resolved it." in blank.stderr
    resolved = json.loads(
        tocsin("incident", "resolve", "INC-1", "-m", "Rolled back release 42", "--json").stdout
    )
    assert resolved["status"] == "resolved"
    assert resolved["resolution_summary"] == "Rolled back release 42"
    closed = tocsin("incident", "close", "INC-1").stdout
    assert closed.splitlines()[0].startswith("INC-1  SEV3  closed")
    assert "next moves:       none (it is final)" in closed
    assert [kind for kind, _, _ in events_of(db, "INC-1")] == [
        "status_changed",
        "status_changed",
        "status_changed",
        "declared",
    ]


def test_an_illegal_transition_names_the_allowed_moves(tocsin, admin, db):
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV2")
    refused = tocsin("incident", "close", "INC-1", code=1)
    assert refused.stderr.strip() == (
        "An incident that is open cannot move to closed; allowed: fixing, cancelled. "
        "(field: status)"
    )
    assert refused.stdout == ""
    assert json.loads(tocsin("incident", "show", "INC-1", "--json").stdout)["status"] == "open"


def test_one_command_is_all_or_nothing(tocsin, admin, db):
    """A refused status move undoes the field changes given with it."""
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV2")
    tocsin(
        "incident",
        "update",
        "INC-1",
        "--summary",
        "Renamed",
        "-s",
        "SEV1",
        "--status",
        "closed",
        "--note",
        "never written",
        code=1,
    )
    incident = json.loads(tocsin("incident", "show", "INC-1", "--json").stdout)
    assert (incident["summary"], incident["severity"]) == ("Checkout fails", "SEV2")
    assert [e["kind"] for e in incident["timeline"]] == ["declared"]


def test_as_acts_as_that_person_and_the_timeline_shows_them(tocsin, admin, responder, db):
    incident = declared(tocsin, "Login page down", "-s", "SEV1", "--as", responder.email.upper())
    assert incident["incident_manager"]["name"] == "Rita Responder"
    assert incident["reporter"]["name"] == "Rita Responder"
    tocsin(
        "incident",
        "update",
        "INC-1",
        "--note",
        "Looking at the load balancer",
        env={"TOCSIN_USER": responder.email},
    )
    tocsin("incident", "update", "INC-1", "--status", "fixing")  # no --as: the first admin
    timeline = tocsin("incident", "show", "INC-1").stdout
    assert "Rita Responder declared INC-1 (SEV1): Login page down" in timeline
    assert "Rita Responder: Looking at the load balancer" in timeline
    assert "Ada Admin: Status changed from open to fixing" in timeline
    assert [actor for _, actor, _ in events_of(db, "INC-1")] == [
        "Ada Admin",
        "Rita Responder",
        "Rita Responder",
    ]
    stranger = tocsin("incident", "list", "--as", "nobody@example.com", code=1)
    assert "No active user nobody@example.com." in stranger.stderr


def test_a_restricted_incident_is_invisible_to_non_participants(tocsin, admin, make_user):
    alice = make_user(Role.RESPONDER, name="Alice")
    bob = make_user(Role.RESPONDER, name="Bob")
    tocsin("incident", "declare", "Public outage", "-s", "SEV3", "--as", bob.email)
    breach = declared(
        tocsin, "Customer data exposed", "-s", "SEV1", "--restricted", "--as", alice.email
    )
    assert breach["restricted"] is True

    bobs_list = tocsin("incident", "list", "--as", bob.email).stdout
    assert "INC-2" not in bobs_list and "exposed" not in bobs_list
    assert [
        i["key"] for i in json.loads(tocsin("incident", "list", "--json", "--as", bob.email).stdout)
    ] == ["INC-1"]
    searched = tocsin("incident", "list", "-q", "exposed", "--as", bob.email).stdout
    assert searched.strip() == "No incidents match."
    for command in (["show", "INC-2"], ["update", "INC-2", "--note", "hi"], ["close", "INC-2"]):
        hidden = tocsin("incident", *command, "--as", bob.email, code=1)
        assert hidden.stderr.startswith("No incident INC-2."), command

    assert "INC-2" in tocsin("incident", "list", "--as", alice.email).stdout
    admin_view = tocsin("incident", "list").stdout
    assert "Customer data exposed [restricted]" in admin_view


def test_a_viewer_cannot_declare(tocsin, admin, viewer):
    refused = tocsin(
        "incident", "declare", "Looks broken", "-s", "SEV3", "--as", viewer.email, code=1
    )
    assert "You need the responder role to declare incidents; you are a viewer." in refused.stderr
    assert tocsin("incident", "list", "--as", viewer.email).stdout.strip() == (
        "No incidents match."
    )


def test_incident_commands_need_someone_to_act_as(tocsin):
    nobody = tocsin("incident", "list", code=1)
    assert "Nobody to act as: give --as EMAIL" in nobody.stderr
    assert "tocsin user create --role admin" in nobody.stderr


# ---------------------------------------------------------------- the database


@both_kinds
def test_db_upgrade_creates_the_schema_on_a_fresh_database(fresh_database_url, use_database):
    use_database(fresh_database_url)
    run = _runner()
    first = run("db", "upgrade")
    head = migrations.head_revision()
    assert f"Upgraded the database from nothing to revision {head}." in first.stdout
    database = Database(fresh_database_url)
    try:
        assert migrations.current_revision(database.engine) == head
        assert {"users", "incidents", "timeline_events"} <= set(
            inspect(database.engine).get_table_names()
        )
    finally:
        database.dispose()
    again = run("db", "upgrade")
    assert f"already at revision {head}; nothing to do" in again.stdout
    run("user", "create", "--email", "ada@example.com", "--name", "Ada", "--role", "admin")
    assert run("incident", "list").stdout.strip() == "No incidents match."


def test_a_schema_from_a_newer_tocsin_is_named_as_such(tmp_path, use_database):
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    migrations.upgrade(url)
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.dispose()
    use_database(url)
    run = _runner()
    for command in (["db", "upgrade"], ["incident", "list"]):
        refused = run(*command, code=1)
        assert "9999" in refused.stderr
        assert "Was it migrated by a newer Tocsin?" in refused.stderr


@both_kinds
def test_serve_refuses_to_start_while_migrations_are_pending(
    fresh_database_url, use_database, monkeypatch
):
    import uvicorn

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(a))
    use_database(fresh_database_url)
    path = get_settings().sqlite_path()
    if path is not None:  # an empty SQLite file: there, but without the schema
        path.parent.mkdir(parents=True)
        path.touch()
    run = _runner()
    refused = run("serve", "--port", "18199", code=1)
    assert "The database schema is at nothing" in refused.stderr
    assert "Run 'tocsin db upgrade' first." in refused.stderr
    assert started == []
    # ... and the other commands say the same instead of failing on a missing table.
    listing = run("incident", "list", code=1)
    assert "Run 'tocsin db upgrade' first." in listing.stderr


def test_a_database_that_does_not_exist_yet_is_a_clear_message(tmp_path, use_database, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    path = tmp_path / "nowhere" / "tocsin.db"
    use_database(f"sqlite:///{path}")
    run = _runner()
    for command in (
        ["incident", "list"],
        ["serve"],
        ["user", "create", "--email", "a@b.io", "--name", "A"],
    ):
        missing = run(*command, code=1)
        assert f"There is no database at {path} yet. Run 'tocsin db upgrade' first." in (
            missing.stderr
        )
    assert not path.exists() and not path.parent.exists()

    use_database("nosuchdb://somewhere/tocsin")
    wrong = run("incident", "list", code=1)
    assert "is not a database URL Tocsin understands" in wrong.stderr


def test_an_unreachable_postgresql_is_a_clear_message(use_database):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TOCSIN_TEST_POSTGRES_URL (CI sets it)")
    url = make_url(POSTGRES_URL).set(database="tocsin_no_such_database")
    use_database(url.render_as_string(hide_password=False))
    for command in (["incident", "list"], ["db", "upgrade"]):
        result = _runner()(*command, code=1)
        assert "Cannot use the database" in result.stderr
        assert 'database "tocsin_no_such_database" does not exist' in result.stderr


def test_serve_creates_the_first_admin_once(tocsin, db, monkeypatch):
    """In-process, on both databases; the real server is started below on SQLite."""
    import uvicorn

    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: served.append(options))
    first = tocsin("serve", "--port", "18199", "--no-engine")
    password = re.search(r"password: (\S+)", first.stdout).group(1)
    assert "email:    admin@example.com" in first.stdout
    assert "engine: off" in first.stdout
    # Only the proxies in TOCSIN_TRUSTED_PROXIES (127.0.0.1 by default) are believed about
    # the client's address and https.
    assert served == [
        {
            "host": "127.0.0.1",
            "port": 18199,
            "log_level": "info",
            "access_log": False,
            "forwarded_allow_ips": "127.0.0.1",
        }
    ]
    with db.begin() as session:
        assert auth.authenticate_password(session, "admin@example.com", password).is_admin
    second = tocsin("serve", "--port", "18199")
    assert "password" not in second.stdout and "First start" not in second.stdout


def test_serve_refuses_a_bad_admin_email(db, use_database, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.setenv("TOCSIN_ADMIN_EMAIL", "admin-at-example")
    use_database(db.url)
    refused = _runner()("serve", code=1)
    assert "TOCSIN_ADMIN_EMAIL" in refused.stderr
    assert "is not an email address" in refused.stderr


# ---------------------------------------------------------------- the first start, for real

TOCSIN = Path(sys.executable).with_name("tocsin")
PORTS = range(18100, 18200)


def _free_port() -> int:
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 18100-18199")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http(
    method: str, url: str, form: dict | None = None, cookies: dict | None = None
) -> tuple[int, Message, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers, answer.read().decode()


def cookies_set_by(headers: Message) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items() if morsel.value}


def log_in(base: str, email: str, password: str) -> int:
    """The browser's login: the form's CSRF token and its cookie, then the POST."""
    status, headers, page = http("GET", f"{base}/login")
    assert status == 200
    csrf_cookie = cookies_set_by(headers)[LOGIN_CSRF_COOKIE]
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"email": email, "password": password, "csrf_token": token, "next": "/incidents"}
    status, headers, _ = http("POST", f"{base}/login", form, {LOGIN_CSRF_COOKIE: csrf_cookie})
    if status != 303:
        return status
    session_cookie = cookies_set_by(headers)[SESSION_COOKIE]
    status, _, page = http("GET", f"{base}/incidents", cookies={SESSION_COOKIE: session_cookie})
    assert status == 200 and "Declare" in page
    return 303


@dataclass
class Served:
    base: str
    output: Path

    @property
    def stdout(self) -> str:
        return self.output.read_text()


def _environment(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    return {**env, "TOCSIN_DATABASE_URL": f"sqlite:///{database}", **extra}


@contextmanager
def serving(env: dict[str, str], folder: Path, attempts: int = 3) -> Iterator[Served]:
    """`tocsin serve` in a subprocess until /healthz answers; SIGTERM stops it afterwards."""
    for attempt in range(attempts):
        port = _free_port()
        output, errors = folder / f"serve-{port}.out", folder / f"serve-{port}.err"
        with output.open("w") as out, errors.open("w") as err:
            process = subprocess.Popen(
                [str(TOCSIN), "serve", "--port", str(port)], env=env, stdout=out, stderr=err
            )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http("GET", f"{base}/healthz")[0] == 200:
                        break
                except OSError:  # not listening yet (URLError, a reset, a timeout)
                    pass
                try:
                    process.wait(timeout=0.1)  # the pause between polls; returns if it died
                except subprocess.TimeoutExpired:
                    assert time.monotonic() < deadline, "tocsin serve did not answer in 60 s"
                    continue
                if "address already in use" in errors.read_text() and attempt + 1 < attempts:
                    break  # another program took the port in between: try another
                pytest.fail(f"tocsin serve exited {process.returncode}: {errors.read_text()}")
            if process.poll() is not None:
                continue
            yield Served(base, output)
            return
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    # Uvicorn shuts down gracefully, then re-raises the signal it caught.
                    assert process.wait(timeout=30) in (0, -signal.SIGTERM), errors.read_text()
                    assert "Application shutdown complete." in errors.read_text()
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    pytest.fail("tocsin serve did not stop on SIGTERM within 30 s")


needs_console_script = pytest.mark.skipif(
    not TOCSIN.exists(), reason=f"the tocsin console script is not installed at {TOCSIN}"
)


@needs_console_script
def test_first_start_prints_a_password_that_logs_in_and_never_again(tmp_path):
    env = _environment(tmp_path / "var" / "tocsin.db")
    upgrade = subprocess.run(
        [str(TOCSIN), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    with serving(env, tmp_path) as first:
        stdout = first.stdout
        assert "First start: an admin account was created." in stdout
        assert "email:    admin@example.com" in stdout
        password = re.search(r"password: (\S+)", stdout).group(1)
        assert f"Tocsin is starting on {first.base}" in stdout
        assert log_in(first.base, "admin@example.com", password) == 303
        assert log_in(first.base, "admin@example.com", password + "x") == 401
    with serving(env, tmp_path) as second:
        assert "First start" not in second.stdout
        assert "password" not in second.stdout
        assert password not in second.stdout
        assert log_in(second.base, "admin@example.com", password) == 303


@needs_console_script
def test_first_start_takes_the_admin_from_the_environment(tmp_path):
    env = _environment(
        tmp_path / "tocsin.db",
        TOCSIN_ADMIN_EMAIL="ops@example.org",
        TOCSIN_ADMIN_PASSWORD="a-long-chosen-passphrase",
    )
    subprocess.run([str(TOCSIN), "db", "upgrade"], env=env, check=True, capture_output=True)
    with serving(env, tmp_path) as served:
        assert "email:    ops@example.org" in served.stdout
        assert "password: the one in TOCSIN_ADMIN_PASSWORD" in served.stdout
        assert "a-long-chosen-passphrase" not in served.stdout
        assert log_in(served.base, "ops@example.org", "a-long-chosen-passphrase") == 303
        assert log_in(served.base, "admin@example.com", "a-long-chosen-passphrase") == 401


@needs_console_script
def test_serve_in_a_subprocess_refuses_a_database_without_schema(tmp_path):
    env = _environment(tmp_path / "tocsin.db")
    (tmp_path / "tocsin.db").touch()
    refused = subprocess.run(
        [str(TOCSIN), "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "Run 'tocsin db upgrade' first." in refused.stderr
    assert "Traceback" not in refused.stderr


# ---------------------------------------------------------------- alerts


def test_alerts_are_listed_acknowledged_and_resolved_from_the_command_line(
    tocsin, admin, responder, db
):
    from tocsin.alerts import service as alerts
    from tocsin.alerts.events import Action, AlertEvent, AlertSeverity
    from tocsin.alerts.schemas import IntegrationCreate

    with db.begin() as session:
        ada = session.get(User, admin.id)
        service_id = catalogue.create_service(session, ada, ServiceCreate(name="Payments")).id
        integration, _ = alerts.create_integration(
            session, ada, IntegrationCreate(service_id=service_id, name="prom", kind="alertmanager")
        )
        alerts.ingest_events(
            session,
            integration,
            [
                AlertEvent(
                    Action.TRIGGER,
                    "disk",
                    "Disk 95% full on db-1",
                    AlertSeverity.CRITICAL,
                    links=[{"href": "http://prom/graph", "text": "graph"}],
                ),
            ],
        )
    listed = tocsin("alert", "list")
    assert re.search(
        r"ALR-1\s+critical\s+triggered\s+x1\s+Payments\s+Disk 95% full on db-1", listed.stdout
    )
    assert (
        json.loads(tocsin("alert", "list", "--json").stdout)[0]["title"] == "Disk 95% full on db-1"
    )

    acked = tocsin("alert", "ack", "ALR-1", "--as", responder.email)
    assert "ALR-1  critical  acknowledged" in acked.stdout
    shown = tocsin("alert", "show", "ALR-1").stdout
    assert "link: graph http://prom/graph" in shown
    assert f"Acknowledged by {responder.name}" in shown

    tocsin("alert", "resolve", "1")
    assert "No alerts match." in tocsin("alert", "list").stdout  # open ones by default
    assert "resolved" in tocsin("alert", "list", "--status", "resolved").stdout
    assert "not an alert key" in tocsin("alert", "show", "INC-1", code=1).stderr
    assert "No alert ALR-9" in tocsin("alert", "show", "ALR-9", code=1).stderr


# ---------------------------------------------------------------- postmortems


def test_a_major_incident_waits_for_its_postmortem_and_the_cli_shows_and_exports_it(
    tocsin, admin, db, tmp_path
):
    tocsin("incident", "declare", "Checkout fails", "-s", "SEV2")
    tocsin("incident", "update", "INC-1", "--status", "fixing")
    tocsin("incident", "resolve", "INC-1", "-m", "Rolled back release 42")
    refused = tocsin("incident", "close", "INC-1", code=1)
    assert said(refused.stderr).startswith(
        "INC-1 is a major incident (SEV2) and closes only once its postmortem is approved. "
        "Its postmortem (owner Ada Admin) is a draft"
    )
    listing = tocsin("postmortem", "list").stdout.splitlines()
    assert listing[1].split()[:4] == ["INC-1", "draft", "Ada", "Admin"]
    assert tocsin("postmortem", "list", "--status", "published").stdout.strip() == (
        "No postmortems match."
    )
    shown = tocsin("postmortem", "show", "INC-1").stdout
    assert shown.startswith("Postmortem of INC-1: Checkout fails\n  status: Draft   version: 1")
    assert "Impact:\n  Duration: " in shown
    as_json = json.loads(tocsin("postmortem", "show", "INC-1", "--json").stdout)
    assert as_json["status"] == "draft" and as_json["allowed_moves"] == ["in_review"]
    exported = tocsin("postmortem", "export", "INC-1").stdout
    assert exported.startswith("# Postmortem: INC-1 Checkout fails\n")
    target = tmp_path / "inc-1.md"
    tocsin("postmortem", "export", "INC-1", "-o", str(target))
    assert target.read_text(encoding="utf-8") == exported
    missing = tocsin("postmortem", "show", "INC-2", code=1)
    assert "No incident INC-2. (field: key)" in missing.stderr
