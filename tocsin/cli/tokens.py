"""API tokens, for scripting a setup before anyone has opened the browser."""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.auth import service as auth
from tocsin.auth.schemas import TokenCreate
from tocsin.cli.common import command_session, fail, when

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Email of the person the token acts as.")],
    name: Annotated[str, typer.Option(help="What uses it, e.g. 'setup script'.")] = "cli",
) -> None:
    """Create an API token for a person and print it (shown only this once)."""
    with command_session() as session:
        person = auth.user_by_email(session, user)
        if person is None or not person.is_active:
            fail(f"No active user {user}.")
        _token, plaintext = auth.create_token(session, person, TokenCreate(name=name).name)
    typer.echo(f"Created token '{name}' for {person.name} <{person.email}> ({person.role}).")
    typer.echo("Send it as 'Authorization: Bearer <token>'; it is shown only this once:")
    typer.echo(plaintext)


@token_app.command("list")
def token_list(user: Annotated[str, typer.Option(help="Email of the person.")]) -> None:
    """A person's tokens: name, created, last used, revoked (never the secret)."""
    with command_session(write=False) as session:
        person = auth.user_by_email(session, user)
        if person is None:
            fail(f"No user {user}.")
        tokens = auth.list_tokens(session, person)
    if not tokens:
        typer.echo(f"{person.email} has no API tokens.")
        return
    typer.echo(f"{'ID':<6} {'NAME':<24} {'CREATED':<22} {'LAST USED':<22} REVOKED")
    for t in tokens:
        typer.echo(
            f"{t.id:<6} {t.name:<24.24} {when(t.created_at):<22} {when(t.last_used_at):<22} "
            f"{when(t.revoked_at)}"
        )
