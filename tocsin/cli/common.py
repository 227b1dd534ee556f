"""What every command group shares: the database, one transaction a command, who acts, failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy import make_url, select
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.config import get_settings
from tocsin.db import Database
from tocsin.errors import TocsinError

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


def fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def first_complaint(invalid: ValidationError) -> str:
    """The first Pydantic complaint as a person would write it: `email: is not an email`."""
    first = invalid.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# ---------------------------------------------------------------- reaching the database


def shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@contextmanager
def open_database(*, must_exist: bool = True) -> Iterator[Database]:
    """The configured database; an unreachable or missing one becomes a clear message."""
    settings = get_settings()
    url = settings.database_url
    path = settings.sqlite_path()
    if must_exist and path is not None and not path.is_file():
        # Connecting would leave an empty file behind and then fail on the first table.
        fail(f"There is no database at {path} yet. Run 'tocsin db upgrade' first.")
    try:
        database = Database(url)
    except ArgumentError as wrong:
        fail(f"TOCSIN_DATABASE_URL={url!r} is not a database URL Tocsin understands: {wrong}")
    try:
        yield database
    except DBAPIError as failure:
        reason = str(failure.orig).strip().splitlines()[0] if failure.orig else str(failure)
        fail(f"Cannot use the database {shown_url(url)}: {reason}")
    finally:
        database.dispose()


def require_current_schema(database: Database) -> None:
    current, head = migrations.current_revision(database.engine), migrations.head_revision()
    if current is not None and current != head and not known_revision(current):
        fail(
            f"The database schema is at revision {current}, which this Tocsin does not know "
            f"(it needs {head}). Was it migrated by a newer Tocsin?"
        )
    if current != head:
        fail(
            f"The database schema is at {current or 'nothing'} but this Tocsin needs {head}. "
            "Run 'tocsin db upgrade' first."
        )


def known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory(str(migrations.HERE)).get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def command_session(*, write: bool = True) -> Iterator[Session]:
    """One command, one transaction.

    The services commit each step; here those commits only release savepoints, and
    the command's transaction commits once at the end. A refused step (a domain
    error, bad input) undoes the earlier ones and becomes a message and exit status 1.
    """
    with open_database() as database:
        require_current_schema(database)
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
            fail(refused.message + (f" (field: {refused.field})" if refused.field else ""))
        except ValidationError as invalid:
            fail(first_complaint(invalid))


def acting_person(session: Session, email: str | None) -> User:
    if email:
        user = auth.user_by_email(session, email)
        if user is None or not user.is_active:
            fail(f"No active user {email}.")
        return user
    admin = session.scalar(
        select(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        .order_by(User.id)
    )
    if admin is None:
        fail(
            "Nobody to act as: give --as EMAIL (or set TOCSIN_USER), or create an admin with "
            "'tocsin user create --role admin --email EMAIL --name NAME'."
        )
    return admin


# ---------------------------------------------------------------- serve, worker, db


def when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"
