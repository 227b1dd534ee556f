"""Who is on call."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from tocsin.cli.common import AsJson, command_session
from tocsin.db import now
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import OnCallOut, ServiceOnCallOut, ShiftOut

oncall_app = typer.Typer(help="Who is on call.", no_args_is_help=True)


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
    with command_session(write=False) as session:
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
    with command_session(write=False) as session:
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
