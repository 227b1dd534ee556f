"""Serving, running the engine, and migrating the database."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer
from alembic.util.exc import CommandError
from pydantic import ValidationError

from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.cli.common import fail, first_complaint, open_database, require_current_schema
from tocsin.config import get_settings
from tocsin.db import Database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run on a live database)."""
    settings = get_settings()
    path = settings.sqlite_path()
    if path is not None and not path.parent.exists():
        # Owner-only: the folder (./var) holds the database, its tokens included.
        path.parent.mkdir(mode=0o700, parents=True)
    head = migrations.head_revision()
    with open_database(must_exist=False) as database:
        before = migrations.current_revision(database.engine)
        if before == head:
            typer.echo(f"The database is already at revision {head}; nothing to do.")
            return
        try:
            migrations.upgrade(settings.database_url)
        except CommandError as refused:
            fail(
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
        if invalid.errors()[0]["loc"][:1] == ("password",):
            why = invalid.errors()[0]["msg"].removeprefix("Value error, ")
            fail(
                f"Cannot create the first admin from TOCSIN_ADMIN_PASSWORD: {why} "
                "(a password is 10 to 200 characters). Tocsin did not start."
            )
        fail(f"Cannot create the first admin from TOCSIN_ADMIN_EMAIL: {first_complaint(invalid)}")
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
    with open_database() as database:
        require_current_schema(database)
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
            fail("SQLite is served by one process; use PostgreSQL for --workers above 1.")
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
            forwarded_allow_ips=settings.trusted_proxies,
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
            # Only these proxies' X-Forwarded-For/-Proto are believed (client address, https).
            forwarded_allow_ips=settings.trusted_proxies,
        )
    finally:
        database.dispose()


def worker() -> None:
    """Run only the background engine (for running it apart from the web servers)."""
    import logging

    from tocsin.engine.modules import all_modules
    from tocsin.engine.runner import EngineRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    with open_database() as database:
        require_current_schema(database)
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
