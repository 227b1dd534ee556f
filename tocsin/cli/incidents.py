"""Incidents: declare, list, show, update, resolve, close, take."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tocsin.cli.common import (
    ActAs,
    AsJson,
    Key,
    ProductOption,
    ServiceOption,
    acting_person,
    command_session,
    fail,
    when,
)
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

incident_app = typer.Typer(help="Incidents.", no_args_is_help=True)


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
        f"  impact started:   {when(incident.impact_started_at)}"
        f"   detected: {when(incident.detected_at)}   declared: {when(incident.declared_at)}"
    )
    if incident.acknowledged_at:
        lines.append(f"  acknowledged:     {when(incident.acknowledged_at)}")
    if incident.resolved_at:
        lines.append(
            f"  resolved:         {when(incident.resolved_at)}: {incident.resolution_summary}"
        )
    if incident.closed_at:
        lines.append(f"  closed:           {when(incident.closed_at)}")
    if incident.cancelled_at:
        lines.append(f"  cancelled:        {when(incident.cancelled_at)}: {incident.cancel_reason}")
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
    with command_session() as session:
        data = IncidentCreate(
            summary=summary,
            severity=severity,
            description=description,
            service_id=service_id,
            product_ids=product or [],
            restricted=restricted,
        )
        incident = incidents.declare_incident(session, acting_person(session, as_email), data)
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
    with command_session(write=False) as session:
        filters = IncidentFilters(
            status=status or [], severity=severity or [], service_id=service, q=query, limit=limit
        )
        items, _next = incidents.list_incidents(session, acting_person(session, as_email), filters)
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
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
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
        fail(
            "Nothing to change: give --summary, --severity, --description, --service, "
            "--product, --restricted/--unrestricted, --status or --note.",
            code=2,
        )
    with command_session() as session:
        actor = acting_person(session, as_email)
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
    with command_session() as session:
        actor = acting_person(session, as_email)
        change = StatusChange(status=Status.RESOLVED, resolution_summary=summary)
        shown = _render_incident(incidents.change_status(session, actor, key, change), as_json)
    typer.echo(shown)


@incident_app.command("close")
def incident_close(key: Key, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Close a resolved incident."""
    with command_session() as session:
        actor = acting_person(session, as_email)
        change = StatusChange(status=Status.CLOSED)
        shown = _render_incident(incidents.change_status(session, actor, key, change), as_json)
    typer.echo(shown)


@incident_app.command("take")
def incident_take(key: Key, as_email: ActAs = None, as_json: AsJson = False) -> None:
    """Take command of an incident that has no incident manager (declared by an alert rule)."""
    with command_session() as session:
        actor = acting_person(session, as_email)
        shown = _render_incident(incidents.take_command(session, actor, key), as_json)
    typer.echo(shown)


# ---------------------------------------------------------------- alerts
