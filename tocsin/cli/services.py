"""Services of the catalogue, for scripting a setup."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate, ServiceOut
from tocsin.cli.common import ActAs, AsJson, acting_person, command_session

service_app = typer.Typer(help="Services of the catalogue.", no_args_is_help=True)


@service_app.command("create")
def service_create(
    name: Annotated[str, typer.Argument(help="The service's name, e.g. payment-gateway.")],
    description: Annotated[str, typer.Option(help="What it does.")] = "",
    team: Annotated[int | None, typer.Option(help="Id of the owning team.", metavar="ID")] = None,
    acting: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Add a service (admins). Give it an escalation policy next: 'tocsin policy assign'."""
    with command_session() as session:
        actor = acting_person(session, acting)
        data = ServiceCreate(name=name, description=description, team_id=team)
        created = catalogue.create_service(session, actor, data)
        shown = ServiceOut.model_validate(created).model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    typer.echo(f"Created service {shown['id']}: {shown['name']}.")
    typer.echo(
        "It pages nobody until it has an escalation policy: "
        f"tocsin policy assign --service {shown['id']} --policy ID"
    )


@service_app.command("list")
def service_list(as_json: AsJson = False) -> None:
    """Every service with its id."""
    with command_session(write=False) as session:
        shown = [
            ServiceOut.model_validate(s).model_dump(mode="json")
            for s in catalogue.list_services(session)
        ]
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        typer.echo("No services yet: tocsin service create NAME")
        return
    typer.echo(f"{'ID':<6} NAME")
    for s in shown:
        typer.echo(f"{s['id']:<6} {s['name']}")
