"""The `tocsin` command: serve, run the engine, migrate, and manage users and incidents.

Incident commands act as a person (`--as EMAIL`, or TOCSIN_USER; the first admin
when neither is given) and go through the same services as the API and the web.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import UserCreate
from tocsin.config import get_settings
from tocsin.db import Database
from tocsin.errors import TocsinError
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentFilters,
    IncidentOut,
    IncidentUpdate,
    StatusChange,
)
from tocsin.incidents.workflow import Severity, Status

app = typer.Typer(
    help="Tocsin: incident management from first alert to last follow-up.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="People.", no_args_is_help=True)
incident_app = typer.Typer(help="Incidents.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(incident_app, name="incident")

ActAs = Annotated[
    str | None, typer.Option("--as", envvar="TOCSIN_USER", help="Email of the person acting.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def _session() -> Iterator[Session]:
    """A write session; a domain error becomes a clear message and exit status 1."""
    database = Database(get_settings().database_url)
    try:
        with database.begin() as session:
            yield session
    except TocsinError as refused:
        _fail(f"{refused.message}" + (f" (field: {refused.field})" if refused.field else ""))
    except ValidationError as invalid:
        first = invalid.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    finally:
        database.dispose()


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
        _fail("No admin yet: start Tocsin once ('tocsin serve') or run 'tocsin user create'.")
    return admin


def _require_current_schema(database: Database) -> None:
    current, head = migrations.current_revision(database.engine), migrations.head_revision()
    if current != head:
        _fail(
            f"The database schema is at {current or 'nothing'} but this Tocsin needs {head}. "
            "Run 'tocsin db upgrade' first."
        )


# ---------------------------------------------------------------- serve, worker, db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run on a live database)."""
    url = get_settings().database_url
    settings = get_settings()
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(url)
    typer.echo(f"Database is at revision {migrations.head_revision()}.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    engine: Annotated[bool, typer.Option(help="Run the background engine in this process.")] = True,
) -> None:
    """Serve the web UI and API (with the engine, unless --no-engine)."""
    import uvicorn

    from tocsin.app import create_app

    settings = get_settings()
    if not engine:
        settings = settings.model_copy(update={"run_engine": False})
    database = Database(settings.database_url)
    _require_current_schema(database)
    with database.begin() as session:
        created = auth.bootstrap_admin(session, settings.admin_email, settings.admin_password)
    if created:
        admin, password = created
        shown = "(from TOCSIN_ADMIN_PASSWORD)" if settings.admin_password else password
        typer.secho(
            "\nFirst start: an admin account was created.", fg=typer.colors.GREEN, bold=True
        )
        typer.echo(f"  email:    {admin.email}\n  password: {shown}")
        typer.echo("  This password is shown only once; change it under Settings.\n")
    address = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(
        f"Tocsin is starting on {address} (database: {database.engine.dialect.name}, "
        f"engine: {'on' if settings.run_engine else 'off'}). Log in at {address}/login"
    )
    application = create_app(settings, database)
    uvicorn.run(
        application, host=host or settings.host, port=port or settings.port, log_level="info"
    )


@app.command()
def worker() -> None:
    """Run only the background engine (for running it apart from the web servers)."""
    import logging

    from tocsin.engine.modules import all_modules
    from tocsin.engine.runner import EngineRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    database = Database(settings.database_url)
    _require_current_schema(database)
    runner = EngineRunner(database, all_modules(), settings.engine_tick_seconds)
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
        typer.echo(f"Created {user.email} ({user.role}).")
        if generated:
            typer.echo(f"Password (shown once): {generated}")


# ---------------------------------------------------------------- incidents


def _print_incident(incident: Incident, as_json: bool) -> None:
    if as_json:
        typer.echo(IncidentOut.model_validate(incident).model_dump_json(indent=2))
        return
    typer.echo(f"{incident.key}  {incident.severity}  {incident.status}  {incident.summary}")
    typer.echo(
        f"  incident manager: {incident.incident_manager.name} <{incident.incident_manager.email}>"
    )
    typer.echo(f"  service: {incident.service.name if incident.service else 'unknown'}")
    if incident.products:
        typer.echo(f"  products: {', '.join(p.name for p in incident.products)}")
    if incident.tech_leads:
        typer.echo(f"  tech leads: {', '.join(u.name for u in incident.tech_leads)}")
    if incident.communications_manager:
        typer.echo(f"  communications: {incident.communications_manager.name}")
    typer.echo(
        f"  declared: {incident.declared_at:%Y-%m-%d %H:%M} UTC"
        f"  impact since: {incident.impact_started_at:%Y-%m-%d %H:%M} UTC"
    )
    if incident.resolved_at:
        typer.echo(
            f"  resolved: {incident.resolved_at:%Y-%m-%d %H:%M} UTC: {incident.resolution_summary}"
        )
    if incident.handover_to:
        typer.echo(f"  handover waiting for: {incident.handover_to.name}")


@incident_app.command("declare")
def incident_declare(
    summary: Annotated[str, typer.Argument(help="What is wrong.")],
    severity: Annotated[Severity, typer.Option("--severity", "-s", help="SEV1, SEV2 or SEV3.")],
    description: Annotated[str, typer.Option(help="Customer impact, reporter contact.")] = "",
    service: Annotated[int | None, typer.Option(help="Id of the faulty service.")] = None,
    product: Annotated[
        list[int] | None, typer.Option(help="Id of an affected product; repeat.")
    ] = None,
    restricted: Annotated[bool, typer.Option(help="Only participants and admins see it.")] = False,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Declare an incident; you become its incident manager."""
    with _session() as session:
        data = IncidentCreate(
            summary=summary,
            severity=severity,
            description=description,
            service_id=service,
            product_ids=product or [],
            restricted=restricted,
        )
        incident = incidents.declare_incident(session, _actor(session, as_email), data)
        _print_incident(incident, as_json)


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
    with _session() as session:
        filters = IncidentFilters(
            status=status or [], severity=severity or [], service_id=service, q=query, limit=limit
        )
        items, _next = incidents.list_incidents(session, _actor(session, as_email), filters)
        if as_json:
            typer.echo(
                json.dumps(
                    [IncidentOut.model_validate(i).model_dump(mode="json") for i in items], indent=2
                )
            )
            return
        if not items:
            typer.echo("No incidents match.")
        for i in items:
            manager = i.incident_manager.name
            typer.echo(f"{i.key:<9} {i.severity}  {i.status:<9} {manager:<20.20} {i.summary}")


@incident_app.command("show")
def incident_show(
    key: str,
    as_email: ActAs = None,
    as_json: AsJson = False,
    timeline: Annotated[bool, typer.Option(help="Also print the timeline.")] = True,
) -> None:
    """Show one incident and its timeline."""
    with _session() as session:
        actor = _actor(session, as_email)
        incident = incidents.get_incident(session, actor, key)
        _print_incident(incident, as_json)
        if timeline and not as_json:
            typer.echo("  timeline (newest first):")
            for event in incidents.timeline_of(session, actor, key):
                star = "★" if event.starred else " "
                typer.echo(f"   {star} {event.at:%Y-%m-%d %H:%M:%S}  {event.message}")


@incident_app.command("update")
def incident_update(
    key: str,
    summary: Annotated[str | None, typer.Option()] = None,
    severity: Annotated[Severity | None, typer.Option("--severity", "-s")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    service: Annotated[int | None, typer.Option(help="Faulty service id.")] = None,
    status: Annotated[Status | None, typer.Option(help="Move to fixing, cancelled, ...")] = None,
    reason: Annotated[str, typer.Option(help="Why, when cancelling.")] = "",
    note: Annotated[str | None, typer.Option(help="Add a note to the timeline.")] = None,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Change fields, move the status, or add a note."""
    with _session() as session:
        actor = _actor(session, as_email)
        values = {
            k: v
            for k, v in {
                "summary": summary,
                "severity": severity,
                "description": description,
                "service_id": service,
            }.items()
            if v is not None
        }
        incident = incidents.get_incident(session, actor, key)
        if values:
            incident = incidents.update_incident(session, actor, key, IncidentUpdate(**values))
        if status is not None:
            incident = incidents.change_status(
                session, actor, key, StatusChange(status=status, reason=reason)
            )
        if note:
            incidents.add_note(session, actor, key, note)
        _print_incident(incident, as_json)


@incident_app.command("resolve")
def incident_resolve(
    key: str,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What resolved it.")],
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Resolve an incident with a resolution summary."""
    with _session() as session:
        actor = _actor(session, as_email)
        change = StatusChange(status=Status.RESOLVED, resolution_summary=summary)
        _print_incident(incidents.change_status(session, actor, key, change), as_json)


@incident_app.command("close")
def incident_close(key: str, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Close a resolved incident."""
    with _session() as session:
        actor = _actor(session, as_email)
        _print_incident(
            incidents.change_status(session, actor, key, StatusChange(status=Status.CLOSED)),
            as_json,
        )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
