"""Integrations: where monitoring sends a service's alerts, for scripting a setup."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tocsin.alerts import service as alerts
from tocsin.alerts.models import IntegrationKind
from tocsin.alerts.schemas import IntegrationCreate
from tocsin.cli.common import ActAs, AsJson, acting_person, command_session
from tocsin.config import get_settings

integration_app = typer.Typer(help="Integrations (alert sources).", no_args_is_help=True)


@integration_app.command("create")
def integration_create(
    service: Annotated[int, typer.Option(help="Id of the service.", metavar="ID")],
    name: Annotated[str, typer.Option(help="E.g. 'Alertmanager eu-west'.")],
    kind: Annotated[
        IntegrationKind, typer.Option(help="alertmanager, pagerduty, webhook or heartbeat.")
    ] = IntegrationKind.ALERTMANAGER,
    every: Annotated[
        int | None, typer.Option(help="Heartbeats: seconds between pings.", metavar="SECONDS")
    ] = None,
    acting: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Add an integration and print its URL and key (shown only this once)."""
    with command_session() as session:
        actor = acting_person(session, acting)
        data = IntegrationCreate(
            service_id=service, name=name, kind=kind, heartbeat_interval_seconds=every
        )
        integration, key = alerts.create_integration(session, actor, data)
        url = alerts.integration_url(get_settings().base_url, integration, key)
        shown = {"id": integration.id, "name": integration.name, "kind": kind.value}
    if as_json:
        typer.echo(json.dumps({**shown, "url": url, "key": key}, indent=2))
        return
    typer.echo(f"Created {kind.value} integration {shown['id']}: {shown['name']}.")
    typer.echo("Shown only this once:")
    typer.echo(f"  url: {url}")
    typer.echo(f"  key: {key}")
