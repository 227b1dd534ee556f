"""The `tocsin` command: serve, run the engine, migrate, and manage users and incidents.

Incident commands act as a person (`--as EMAIL`, or TOCSIN_USER; the first admin
when neither is given) and go through the same services as the API and the web.
Each command is one transaction: when any step is refused, nothing is written.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy import make_url, select
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from tocsin import migrations
from tocsin.alerts import service as alerts
from tocsin.alerts.events import AlertSeverity, AlertStatus
from tocsin.alerts.models import Alert
from tocsin.alerts.schemas import AlertFilters, AlertOut
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import UserCreate
from tocsin.config import get_settings
from tocsin.db import Database, now
from tocsin.errors import TocsinError
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentFilters,
    IncidentOut,
    IncidentUpdate,
    StatusChange,
    TimelineEventOut,
)
from tocsin.incidents.workflow import Severity, Status
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import OnCallOut, ServiceOnCallOut, ShiftOut

app = typer.Typer(
    help="Tocsin: incident management from first alert to last follow-up.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="People.", no_args_is_help=True)
incident_app = typer.Typer(help="Incidents.", no_args_is_help=True)
alert_app = typer.Typer(help="Alerts from monitoring.", no_args_is_help=True)
oncall_app = typer.Typer(help="Who is on call.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(incident_app, name="incident")
app.add_typer(alert_app, name="alert")
app.add_typer(oncall_app, name="oncall")

ActAs = Annotated[
    str | None, typer.Option("--as", envvar="TOCSIN_USER", help="Email of the person acting.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Key = Annotated[str, typer.Argument(metavar="KEY", help="The incident's key, e.g. INC-42.")]
ServiceOption = Annotated[
    str | None, typer.Option(help="Id of the faulty service, or 'unknown'.", metavar="ID")
]
ProductOption = Annotated[
    list[int] | None, typer.Option(help="Id of an affected product; repeat.", metavar="ID")
]


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _invalid(invalid: ValidationError) -> str:
    """The first Pydantic complaint as a person would write it: `email: is not an email`."""
    first = invalid.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# ---------------------------------------------------------------- reaching the database


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@contextmanager
def _database(*, must_exist: bool = True) -> Iterator[Database]:
    """The configured database; an unreachable or missing one becomes a clear message."""
    settings = get_settings()
    url = settings.database_url
    path = settings.sqlite_path()
    if must_exist and path is not None and not path.is_file():
        # Connecting would leave an empty file behind and then fail on the first table.
        _fail(f"There is no database at {path} yet. Run 'tocsin db upgrade' first.")
    try:
        database = Database(url)
    except ArgumentError as wrong:
        _fail(f"TOCSIN_DATABASE_URL={url!r} is not a database URL Tocsin understands: {wrong}")
    try:
        yield database
    except DBAPIError as failure:
        reason = str(failure.orig).strip().splitlines()[0] if failure.orig else str(failure)
        _fail(f"Cannot use the database {_shown_url(url)}: {reason}")
    finally:
        database.dispose()


def _require_current_schema(database: Database) -> None:
    current, head = migrations.current_revision(database.engine), migrations.head_revision()
    if current is not None and current != head and not _known_revision(current):
        _fail(
            f"The database schema is at revision {current}, which this Tocsin does not know "
            f"(it needs {head}). Was it migrated by a newer Tocsin?"
        )
    if current != head:
        _fail(
            f"The database schema is at {current or 'nothing'} but this Tocsin needs {head}. "
            "Run 'tocsin db upgrade' first."
        )


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory(str(migrations.HERE)).get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def _session(*, write: bool = True) -> Iterator[Session]:
    """One command, one transaction.

    The services commit each step; here those commits only release savepoints, and
    the command's transaction commits once at the end. A refused step (a domain
    error, bad input) undoes the earlier ones and becomes a message and exit status 1.
    """
    with _database() as database:
        _require_current_schema(database)
        engine = database.engine
        if write and database.is_sqlite:
            engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with engine.connect() as connection, connection.begin():
                session = Session(
                    bind=connection,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                )
                try:
                    yield session
                finally:
                    session.close()
        except TocsinError as refused:
            _fail(refused.message + (f" (field: {refused.field})" if refused.field else ""))
        except ValidationError as invalid:
            _fail(_invalid(invalid))


def _actor(session: Session, email: str | None) -> User:
    if email:
        user = auth.user_by_email(session, email)
        if user is None or not user.is_active:
            _fail(f"No active user {email}.")
        return user
    admin = session.scalar(
        select(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        .order_by(User.id)
    )
    if admin is None:
        _fail(
            "Nobody to act as: give --as EMAIL (or set TOCSIN_USER), or create an admin with "
            "'tocsin user create --role admin --email EMAIL --name NAME'."
        )
    return admin


# ---------------------------------------------------------------- serve, worker, db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run on a live database)."""
    settings = get_settings()
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    head = migrations.head_revision()
    with _database(must_exist=False) as database:
        before = migrations.current_revision(database.engine)
        if before == head:
            typer.echo(f"The database is already at revision {head}; nothing to do.")
            return
        try:
            migrations.upgrade(settings.database_url)
        except CommandError as refused:
            _fail(
                f"Cannot upgrade the database from revision {before}: {refused}. "
                "Was it migrated by a newer Tocsin?"
            )
    typer.echo(f"Upgraded the database from {before or 'nothing'} to revision {head}.")


def _first_admin(database: Database) -> None:
    """Creates the first admin when nobody exists yet, and shows its password this once."""
    settings = get_settings()
    try:
        with database.begin() as session:
            created = auth.bootstrap_admin(session, settings.admin_email, settings.admin_password)
    except ValidationError as invalid:
        _fail(f"Cannot create the first admin from TOCSIN_ADMIN_EMAIL: {_invalid(invalid)}")
    if not created:
        return
    admin, password = created
    typer.secho("\nFirst start: an admin account was created.", fg=typer.colors.GREEN, bold=True)
    typer.echo(f"  email:    {admin.email}")
    if settings.admin_password:
        typer.echo("  password: the one in TOCSIN_ADMIN_PASSWORD\n")
    else:
        typer.echo(f"  password: {password}")
        typer.echo("  This password is shown only once; change it under Settings.\n")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    engine: Annotated[bool, typer.Option(help="Run the background engine in this process.")] = True,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes; more than one needs PostgreSQL.")
    ] = 1,
) -> None:
    """Serve the web UI and API (with the engine, unless --no-engine)."""
    import uvicorn

    from tocsin.app import create_app

    settings = get_settings()
    if not engine:
        settings = settings.model_copy(update={"run_engine": False})
    host, port = host or settings.host, port or settings.port
    with _database() as database:
        _require_current_schema(database)
        _first_admin(database)
    database = Database(settings.database_url)
    address = f"http://{host}:{port}"
    typer.echo(
        f"Tocsin is starting on {address} (database: {database.engine.dialect.name}, "
        f"engine: {'on' if settings.run_engine else 'off'}). Log in at {address}/login"
    )
    if workers > 1:
        if database.is_sqlite:
            database.dispose()
            _fail("SQLite is served by one process; use PostgreSQL for --workers above 1.")
        database.dispose()
        # Each worker process builds its own app from the environment.
        os.environ["TOCSIN_RUN_ENGINE"] = "true" if settings.run_engine else "false"
        os.environ["TOCSIN_GC_TUNING"] = "true"
        uvicorn.run(
            "tocsin.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=settings.access_log,
        )
        return
    settings = settings.model_copy(update={"gc_tuning": True})
    try:
        uvicorn.run(
            create_app(settings, database),
            host=host,
            port=port,
            log_level="info",
            access_log=settings.access_log,
        )
    finally:
        database.dispose()


@app.command()
def worker() -> None:
    """Run only the background engine (for running it apart from the web servers)."""
    import logging

    from tocsin.engine.modules import all_modules
    from tocsin.engine.runner import EngineRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    with _database() as database:
        _require_current_schema(database)
    database = Database(settings.database_url)
    runner = EngineRunner(database, all_modules(settings), settings.engine_tick_seconds)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    runner.start()
    typer.echo("Tocsin worker is running; Ctrl-C stops it.")
    stopped.wait()
    runner.stop()
    database.dispose()


# ---------------------------------------------------------------- users


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[Role, typer.Option(help="viewer, responder or admin.")] = Role.RESPONDER,
    time_zone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    password: Annotated[
        str | None, typer.Option(help="At least 10 characters; generated when left out.")
    ] = None,
) -> None:
    """Create a person who can log in."""
    with _session() as session:
        data = UserCreate(email=email, name=name, role=role, time_zone=time_zone, password=password)
        user, generated = auth.create_user(session, None, data)
    typer.echo(f"Created {user.name} <{user.email}> ({user.role}).")
    if generated:
        typer.echo(f"Password (shown only this once): {generated}")


# ---------------------------------------------------------------- incidents


NO_MANAGER = "nobody yet"


def _service_id(value: str | None) -> int | None:
    """An id from `--service`; None for "unknown"."""
    if value is None or value.strip().lower() in ("unknown", "none", ""):
        return None
    if not value.strip().isdigit():
        raise typer.BadParameter(
            f"{value!r} is neither a service id nor 'unknown'.", param_hint="--service"
        )
    return int(value)


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


def _incident_json(incident: Incident, events: list | None = None) -> dict[str, Any]:
    body = IncidentOut.model_validate(incident).model_dump(mode="json")
    if events is not None:
        body["timeline"] = [
            TimelineEventOut.model_validate(e).model_dump(mode="json") for e in events
        ]
    return body


def _render_incident(incident: Incident, as_json: bool) -> str:
    """The incident as text for a person, or as the API's JSON."""
    if as_json:
        return json.dumps(_incident_json(incident), indent=2)
    lock = "  [restricted]" if incident.restricted else ""
    manager = incident.incident_manager
    lines = [
        f"{incident.key}  {incident.severity}  {incident.status}  {incident.summary}{lock}",
        f"  incident manager: {f'{manager.name} <{manager.email}>' if manager else NO_MANAGER}",
    ]
    if incident.handover_to:
        lines.append(f"  handover waiting for: {incident.handover_to.name}")
    if incident.tech_leads:
        lines.append(f"  tech leads:       {', '.join(u.name for u in incident.tech_leads)}")
    if incident.communications_manager:
        lines.append(f"  communications:   {incident.communications_manager.name}")
    reporter = incident.reporter.name if incident.reporter else "none (declared from an alert)"
    lines.append(f"  reporter:         {reporter}")
    lines.append(f"  service:          {incident.service.name if incident.service else 'unknown'}")
    if incident.products:
        lines.append(f"  products:         {', '.join(p.name for p in incident.products)}")
    lines.append(
        f"  impact started:   {_when(incident.impact_started_at)}"
        f"   detected: {_when(incident.detected_at)}   declared: {_when(incident.declared_at)}"
    )
    if incident.acknowledged_at:
        lines.append(f"  acknowledged:     {_when(incident.acknowledged_at)}")
    if incident.resolved_at:
        lines.append(
            f"  resolved:         {_when(incident.resolved_at)}: {incident.resolution_summary}"
        )
    if incident.closed_at:
        lines.append(f"  closed:           {_when(incident.closed_at)}")
    if incident.cancelled_at:
        lines.append(
            f"  cancelled:        {_when(incident.cancelled_at)}: {incident.cancel_reason}"
        )
    if incident.description:
        lines.append("  description:")
        lines.extend(f"    {line}" for line in incident.description.splitlines())
    moves = ", ".join(s.value for s in incident.allowed_transitions) or "none (it is final)"
    lines.append(f"  next moves:       {moves}")
    return "\n".join(lines)


@incident_app.command("declare")
def incident_declare(
    summary: Annotated[str, typer.Argument(help="What is wrong.")],
    severity: Annotated[Severity, typer.Option("--severity", "-s", help="SEV1, SEV2 or SEV3.")],
    description: Annotated[str, typer.Option(help="Customer impact, reporter contact.")] = "",
    service: ServiceOption = None,
    product: ProductOption = None,
    restricted: Annotated[bool, typer.Option(help="Only participants and admins see it.")] = False,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Declare an incident; you become its incident manager.

    SEV1: critical, very high impact (a customer-facing service down for all
    customers, a confidentiality or privacy breach, customer data loss).
    SEV2: major, significant impact (down for a subset of customers, core
    functionality significantly impacted). SEV3: minor, low impact (an
    inconvenience with a workaround).
    """
    service_id = _service_id(service)
    with _session() as session:
        data = IncidentCreate(
            summary=summary,
            severity=severity,
            description=description,
            service_id=service_id,
            product_ids=product or [],
            restricted=restricted,
        )
        incident = incidents.declare_incident(session, _actor(session, as_email), data)
        shown = _render_incident(incident, as_json)
    typer.echo(shown)


@incident_app.command("list")
def incident_list(
    status: Annotated[list[Status] | None, typer.Option(help="Filter by status; repeat.")] = None,
    severity: Annotated[
        list[Severity] | None, typer.Option(help="Filter by severity; repeat.")
    ] = None,
    service: Annotated[int | None, typer.Option(help="Faulty service id.")] = None,
    query: Annotated[
        str, typer.Option("--query", "-q", help="Text in key, summary or description.")
    ] = "",
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """List incidents, newest first."""
    with _session(write=False) as session:
        filters = IncidentFilters(
            status=status or [], severity=severity or [], service_id=service, q=query, limit=limit
        )
        items, _next = incidents.list_incidents(session, _actor(session, as_email), filters)
        if as_json:
            shown = json.dumps([_incident_json(i) for i in items], indent=2)
        elif not items:
            shown = "No incidents match."
        else:
            rows = [f"{'KEY':<9} {'SEV':<4}  {'STATUS':<9} {'INCIDENT MANAGER':<20} SUMMARY"]
            for i in items:
                lock = " [restricted]" if i.restricted else ""
                manager = i.incident_manager.name if i.incident_manager else NO_MANAGER
                rows.append(
                    f"{i.key:<9} {i.severity:<4}  {i.status:<9} {manager:<20.20} {i.summary}{lock}"
                )
            shown = "\n".join(rows)
    typer.echo(shown)


@incident_app.command("show")
def incident_show(
    key: Key,
    as_email: ActAs = None,
    as_json: AsJson = False,
    timeline: Annotated[bool, typer.Option(help="Also print the timeline.")] = True,
) -> None:
    """Show one incident and its timeline (newest first)."""
    with _session(write=False) as session:
        actor = _actor(session, as_email)
        incident = incidents.get_incident(session, actor, key)
        events = incidents.timeline_of(session, actor, key) if timeline else None
        if as_json:
            shown = json.dumps(_incident_json(incident, events), indent=2)
        else:
            lines = [_render_incident(incident, as_json=False)]
            if events is not None:
                lines.append("  timeline (newest first):")
                for event in events:
                    star = "*" if event.starred else " "
                    who = event.actor.name if event.actor else "Tocsin"
                    said = event.message
                    if not said.startswith(who):
                        said = f"{who}: {said}"
                    lines.append(f"   {star} {event.at:%Y-%m-%d %H:%M:%S}  {said}")
            shown = "\n".join(lines)
    typer.echo(shown)


@incident_app.command("update")
def incident_update(
    key: Key,
    summary: Annotated[str | None, typer.Option()] = None,
    severity: Annotated[Severity | None, typer.Option("--severity", "-s")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    service: ServiceOption = None,
    product: Annotated[
        list[int] | None,
        typer.Option(help="Id of an affected product; repeat (replaces the list).", metavar="ID"),
    ] = None,
    restricted: Annotated[
        bool | None,
        typer.Option("--restricted/--unrestricted", help="Who can see it.", show_default=False),
    ] = None,
    status: Annotated[Status | None, typer.Option(help="Move to fixing, cancelled, ...")] = None,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", "-m", help="Why, when cancelling; what resolved it, when resolving."
        ),
    ] = "",
    note: Annotated[str | None, typer.Option(help="Add a note to the timeline.")] = None,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Change fields, move the status and add a note: all of it, or nothing."""
    values: dict[str, Any] = {
        name: value
        for name, value in {
            "summary": summary,
            "severity": severity,
            "description": description,
            "product_ids": product,
            "restricted": restricted,
        }.items()
        if value is not None
    }
    if service is not None:
        values["service_id"] = _service_id(service)
    if not values and status is None and note is None:
        _fail(
            "Nothing to change: give --summary, --severity, --description, --service, "
            "--product, --restricted/--unrestricted, --status or --note.",
            code=2,
        )
    with _session() as session:
        actor = _actor(session, as_email)
        incident = incidents.get_incident(session, actor, key)
        events_before = len(incidents.timeline_of(session, actor, key))
        if values:
            incident = incidents.update_incident(session, actor, key, IncidentUpdate(**values))
        if status is not None:
            change = StatusChange(
                status=status,
                reason=reason if status is Status.CANCELLED else "",
                resolution_summary=reason if status is Status.RESOLVED else "",
            )
            incident = incidents.change_status(session, actor, key, change)
        if note is not None:
            incidents.add_note(session, actor, key, note)
        unchanged = len(incidents.timeline_of(session, actor, key)) == events_before
        shown = _render_incident(incident, as_json)
    if unchanged:
        typer.echo(f"Nothing changed: {incident.key} already has those values.", err=True)
    typer.echo(shown)


@incident_app.command("resolve")
def incident_resolve(
    key: Key,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What resolved it.")],
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Resolve an incident with a resolution summary."""
    with _session() as session:
        actor = _actor(session, as_email)
        change = StatusChange(status=Status.RESOLVED, resolution_summary=summary)
        shown = _render_incident(incidents.change_status(session, actor, key, change), as_json)
    typer.echo(shown)


@incident_app.command("close")
def incident_close(key: Key, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Close a resolved incident."""
    with _session() as session:
        actor = _actor(session, as_email)
        change = StatusChange(status=Status.CLOSED)
        shown = _render_incident(incidents.change_status(session, actor, key, change), as_json)
    typer.echo(shown)


@incident_app.command("take")
def incident_take(key: Key, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Take command of an incident that has no incident manager (declared by an alert rule)."""
    with _session() as session:
        actor = _actor(session, as_email)
        shown = _render_incident(incidents.take_command(session, actor, key), as_json)
    typer.echo(shown)


# ---------------------------------------------------------------- alerts

AlertKey = Annotated[
    str, typer.Argument(metavar="ALERT", help="The alert's key, e.g. ALR-7, or 7.")
]


def _alert_id(key: str) -> int:
    alert_id = alerts.parse_alert_key(key)
    if alert_id is None:
        _fail(f"{key!r} is not an alert key such as ALR-7.")
    return alert_id


def _render_alert(alert: Alert, as_json: bool) -> str:
    if as_json:
        return AlertOut.model_validate(alert).model_dump_json(indent=2)
    lines = [
        f"{alert.key}  {alert.severity}  {alert.status}  {alert.title}",
        f"  service: {alert.service.name}   seen {alert.count}x, last {_when(alert.last_seen_at)}",
        f"  dedup key: {alert.dedup_key}",
    ]
    if alert.incident is not None:
        lines.append(f"  incident: INC-{alert.incident.number}")
    if alert.suppressed:
        lines.append("  suppressed: the service was in maintenance")
    lines += [f"  link: {link.get('text') or ''} {link['href']}".rstrip() for link in alert.links]
    return "\n".join(lines)


@alert_app.command("list")
def alert_list(
    status: Annotated[
        list[AlertStatus] | None, typer.Option(help="Filter by status; repeat.")
    ] = None,
    severity: Annotated[
        list[AlertSeverity] | None, typer.Option(help="Filter by severity; repeat.")
    ] = None,
    service: Annotated[int | None, typer.Option(help="Service id.", metavar="ID")] = None,
    query: Annotated[str, typer.Option("--query", "-q", help="Text in title, key or source.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: AsJson = False,
) -> None:
    """List alerts, newest first (open ones unless --status says otherwise)."""
    with _session(write=False) as session:
        chosen = status or [AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED]
        filters = AlertFilters(
            status=chosen, severity=severity or [], service_id=service, q=query, limit=limit
        )
        items, _next = alerts.list_alerts(session, filters)
        if as_json:
            shown = json.dumps(
                [AlertOut.model_validate(a).model_dump(mode="json") for a in items], indent=2
            )
        elif not items:
            shown = "No alerts match."
        else:
            shown = "\n".join(
                f"{a.key:<9} {a.severity:<8} {a.status:<12} x{a.count:<4} {a.service.name:<16.16} "
                f"{a.title}"
                for a in items
            )
    typer.echo(shown)


@alert_app.command("show")
def alert_show(key: AlertKey, as_json: AsJson = False) -> None:
    """Show one alert with its history."""
    with _session(write=False) as session:
        alert = alerts.get_alert(session, _alert_id(key))
        lines = [_render_alert(alert, as_json)]
        if not as_json:
            lines.append("  history (newest first):")
            for event in alerts.alert_timeline(session, alert.id):
                lines.append(f"    {event.at:%Y-%m-%d %H:%M:%S}  {event.message}")
    typer.echo("\n".join(lines))


@alert_app.command("ack")
def alert_ack(key: AlertKey, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Acknowledge an alert: someone is on it."""
    with _session() as session:
        alert = alerts.acknowledge_alert(session, _actor(session, as_email), _alert_id(key))
        shown = _render_alert(alert, as_json)
    typer.echo(shown)


@alert_app.command("resolve")
def alert_resolve(key: AlertKey, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Resolve an alert."""
    with _session() as session:
        alert = alerts.resolve_alert(session, _actor(session, as_email), _alert_id(key))
        shown = _render_alert(alert, as_json)
    typer.echo(shown)


# ---------------------------------------------------------------- on call


def _local(value: Any, zone: str) -> str:
    """A moment in a schedule's own time zone, where its handoffs happen."""
    return f"{value.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M %Z}" if value else "-"


@oncall_app.command("now")
def oncall_now(
    schedule: Annotated[
        int | None, typer.Option(help="Only this schedule.", metavar="ID", min=1, max=2**53)
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Who is on call now: in each schedule, and whom each service pages first."""
    with _session(write=False) as session:
        moment = now()
        ids = [schedule] if schedule else [s.id for s in oncall.list_schedules(session)]
        turns = [oncall.on_call_now(session, schedule_id, moment) for schedule_id in ids]
        services = [] if schedule else oncall.who_is_on_call(session, moment)
        if as_json:
            body: Any = [OnCallOut.model_validate(t).model_dump(mode="json") for t in turns]
            if not schedule:
                body = {
                    "schedules": body,
                    "services": [
                        ServiceOnCallOut.model_validate(r).model_dump(mode="json") for r in services
                    ],
                }
            shown = json.dumps(body, indent=2)
        else:
            lines = [f"{'SCHEDULE':<24} {'ON CALL':<22} UNTIL"] if turns else ["No schedules yet."]
            for t in turns:
                who = t.user.name if t.user else "nobody"
                until = _local(t.until, t.schedule.time_zone) if t.until else ""
                lines.append(f"{t.schedule.name:<24.24} {who:<22.22} {until}".rstrip())
            if services:
                lines += ["", f"{'SERVICE':<24} PAGES FIRST"]
            for row in services:
                if row.escalation_policy is None:
                    pages = "nobody: no escalation policy"
                elif not row.on_call:
                    pages = f"nobody on call ({row.escalation_policy.name})"
                else:
                    pages = ", ".join(f"{r.user.name} ({r.via})" for r in row.on_call)
                lines.append(f"{row.service.name:<24.24} {pages}")
            shown = "\n".join(lines)
    typer.echo(shown)


@oncall_app.command("shifts")
def oncall_shifts(
    schedule: Annotated[int, typer.Argument(metavar="SCHEDULE_ID", min=1, max=2**53)],
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 7,
    as_json: AsJson = False,
) -> None:
    """Who is on call when in a schedule, from now on, in the schedule's time zone."""
    with _session(write=False) as session:
        moment = now()
        found = oncall.shifts_between(session, schedule, moment, moment + timedelta(days=days))
        if as_json:
            shown = json.dumps(
                [ShiftOut.model_validate(s).model_dump(mode="json") for s in found], indent=2
            )
        else:
            zone = oncall.get_schedule(session, schedule).time_zone
            name = oncall.get_schedule(session, schedule).name
            lines = [f"{name} ({zone}), the next {days} days:"]
            for s in found:
                lines.append(
                    f"  {_local(s.start, zone)}  ->  {_local(s.end, zone)}  "
                    f"{s.user.name}  [{s.source_label}]"
                )
            if not found:
                lines.append("  nobody is on call")
            shown = "\n".join(lines)
    typer.echo(shown)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
