"""Escalation policies: who is paged, in which order, for scripting a setup."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from tocsin.auth import service as auth
from tocsin.cli.common import ActAs, AsJson, acting_person, command_session, fail
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import LevelIn, PolicyCreate, PolicyOut, ServicePolicySet, TargetIn

policy_app = typer.Typer(help="Escalation policies.", no_args_is_help=True)

LEVEL_HELP = (
    "One level, in order: 'MINUTES=TARGET[,TARGET...]', a target being user:EMAIL, "
    "schedule:ID or team:ID; e.g. --level '5=schedule:1' --level '10=user:ines@example.com'. "
    "MINUTES: how long before the next level."
)


def _target(session: Session, text: str) -> TargetIn:
    kind, _, ref = text.strip().partition(":")
    if kind == "user" and "@" in ref:
        person = auth.user_by_email(session, ref)
        if person is None:
            fail(f"No user {ref}.")
        return TargetIn(type="user", id=person.id)
    if kind not in ("user", "schedule", "team") or not ref.isdigit():
        fail(f"'{text}' is no target: write user:EMAIL, schedule:ID or team:ID.")
    return TargetIn(type=kind, id=int(ref))


def _level(session: Session, text: str) -> LevelIn:
    minutes, separator, targets = text.partition("=")
    if not separator or not minutes.strip().isdigit():
        fail(f"'{text}' is no level: write MINUTES=TARGET[,TARGET...], e.g. 5=schedule:1.")
    return LevelIn(
        delay_minutes=int(minutes),
        targets=[_target(session, t) for t in targets.split(",") if t.strip()],
    )


def _shown(policy: Any) -> dict[str, Any]:
    return PolicyOut.model_validate(policy).model_dump(mode="json")


@policy_app.command("create")
def policy_create(
    name: Annotated[str, typer.Argument(help="E.g. 'Payments primary'.")],
    level: Annotated[list[str] | None, typer.Option(help=LEVEL_HELP)] = None,
    repeat: Annotated[int, typer.Option(help="Times to run the levels again after the last.")] = 0,
    team: Annotated[int | None, typer.Option(help="Id of the owning team.", metavar="ID")] = None,
    acting: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Create an escalation policy with its levels."""
    with command_session() as session:
        actor = acting_person(session, acting)
        levels = [_level(session, text) for text in level or []]
        data = PolicyCreate(name=name, repeat_count=repeat, team_id=team, levels=levels)
        policy = oncall.create_policy(session, actor, data)
        shown = _shown(policy)
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    typer.echo(f"Created escalation policy {shown['id']}: {shown['name']}, {len(levels)} level(s).")


@policy_app.command("list")
def policy_list(as_json: AsJson = False) -> None:
    """Every escalation policy with its id and levels."""
    with command_session(write=False) as session:
        shown = [_shown(p) for p in oncall.list_policies(session)]
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        typer.echo("No escalation policies yet: tocsin policy create NAME --level 5=schedule:1")
        return
    for p in shown:
        typer.echo(f"{p['id']:<6} {p['name']} ({len(p['levels'])} level(s))")


@policy_app.command("assign")
def policy_assign(
    service: Annotated[int, typer.Option(help="Id of the service.", metavar="ID")],
    policy: Annotated[
        int | None, typer.Option(help="Id of the policy; leave out to page nobody.", metavar="ID")
    ] = None,
    acting: ActAs = None,
) -> None:
    """Choose whom a service's alerts page."""
    with command_session() as session:
        actor = acting_person(session, acting)
        data = ServicePolicySet(escalation_policy_id=policy)
        chosen, assigned = oncall.set_service_policy(session, actor, service, data)
        name, policy_name = chosen.name, assigned.name if assigned else None
    if policy_name:
        typer.echo(f"{name} now pages through {policy_name}.")
    else:
        typer.echo(f"{name} has no escalation policy: its alerts page nobody.")
