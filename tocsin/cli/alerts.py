"""Alerts from monitoring: list, show, acknowledge, resolve."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from tocsin.alerts import service as alerts
from tocsin.alerts.events import AlertSeverity, AlertStatus
from tocsin.alerts.models import Alert
from tocsin.alerts.schemas import AlertFilters, AlertSummaryOut
from tocsin.auth.models import User
from tocsin.cli.common import ActAs, AsJson, acting_person, command_session, fail, when

alert_app = typer.Typer(help="Alerts from monitoring.", no_args_is_help=True)


AlertKey = Annotated[
    str, typer.Argument(metavar="ALERT", help="The alert's key, e.g. ALR-7, or 7.")
]


def _alert_id(key: str) -> int:
    alert_id = alerts.parse_alert_key(key)
    if alert_id is None:
        fail(f"{key!r} is not an alert key such as ALR-7.")
    return alert_id


def _render_alert(session: Session, actor: User, alert: Alert, as_json: bool) -> str:
    """The alert as `actor` may see it: a restricted incident they may not see stays unnamed."""
    shown = alerts.alert_out(session, actor, alert)
    if as_json:
        return shown.model_dump_json(indent=2)
    lines = [
        f"{alert.key}  {alert.severity}  {alert.status}  {alert.title}",
        f"  service: {alert.service.name}   seen {alert.count}x, last {when(alert.last_seen_at)}",
        f"  dedup key: {alert.dedup_key}",
    ]
    if shown.incident is not None:
        lines.append(f"  incident: {shown.incident.key or shown.incident.summary}")
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
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """List alerts, newest first (open ones unless --status says otherwise)."""
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
        chosen = status or [AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED]
        filters = AlertFilters(
            status=chosen, severity=severity or [], service_id=service, q=query, limit=limit
        )
        items, _next = alerts.list_alerts(session, filters)
        if as_json:
            shown = json.dumps(
                [
                    alerts.alert_out(session, actor, a, AlertSummaryOut).model_dump(mode="json")
                    for a in items
                ],
                indent=2,
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
def alert_show(key: AlertKey, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Show one alert with its history (as --as may see it)."""
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
        alert = alerts.get_alert(session, _alert_id(key))
        lines = [_render_alert(session, actor, alert, as_json)]
        if not as_json:
            lines.append("  history (newest first):")
            for event in alerts.alert_timeline(session, actor, alert.id):
                lines.append(f"    {event.at:%Y-%m-%d %H:%M:%S}  {event.message}")
    typer.echo("\n".join(lines))


@alert_app.command("ack")
def alert_ack(key: AlertKey, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Acknowledge an alert: someone is on it."""
    with command_session() as session:
        actor = acting_person(session, as_email)
        alert = alerts.acknowledge_alert(session, actor, _alert_id(key))
        shown = _render_alert(session, actor, alert, as_json)
    typer.echo(shown)


@alert_app.command("resolve")
def alert_resolve(key: AlertKey, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Resolve an alert."""
    with command_session() as session:
        actor = acting_person(session, as_email)
        alert = alerts.resolve_alert(session, actor, _alert_id(key))
        shown = _render_alert(session, actor, alert, as_json)
    typer.echo(shown)
