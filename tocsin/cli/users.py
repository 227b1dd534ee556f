"""People."""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.auth import service as auth
from tocsin.auth.models import Role
from tocsin.auth.schemas import UserCreate
from tocsin.cli.common import command_session

user_app = typer.Typer(help="People.", no_args_is_help=True)


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
    with command_session() as session:
        data = UserCreate(email=email, name=name, role=role, time_zone=time_zone, password=password)
        user, generated = auth.create_user(session, None, data)
    typer.echo(f"Created {user.name} <{user.email}> ({user.role}).")
    if generated:
        typer.echo(f"Password (shown only this once): {generated}")
