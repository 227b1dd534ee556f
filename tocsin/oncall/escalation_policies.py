"""Escalation policies and their levels: who gets paged, in which order, after how long."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import Team, User
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.oncall.models import EscalationLevel, EscalationPolicy, EscalationTarget, Schedule
from tocsin.oncall.ownership import owner_for_input, require_editor, responders, unique_name
from tocsin.oncall.schemas import LevelIn, PolicyCreate, PolicyUpdate, TargetIn
from tocsin.oncall.service_policies import services_of


def list_policies(session: Session) -> list[EscalationPolicy]:
    return list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


def get_policy(session: Session, policy_id: int) -> EscalationPolicy:
    policy = session.get(EscalationPolicy, policy_id)
    if policy is None:
        raise NotFound(f"No escalation policy with id {policy_id}.", field="policy_id")
    return policy


def levels_of(policy: EscalationPolicy) -> list[EscalationLevel]:
    """The policy's levels, first first."""
    return sorted(policy.levels, key=lambda level: level.position)


def _targets(session: Session, targets: list[TargetIn], field: str) -> list[EscalationTarget]:
    """Rows for a level's targets, each checked; a target named twice counts once."""
    rows: list[EscalationTarget] = []
    seen: set[tuple[str, int]] = set()
    for target in targets:
        if (target.type, target.id) in seen:
            continue
        seen.add((target.type, target.id))
        row = EscalationTarget(position=len(rows))
        if target.type == "user":
            row.user = responders(session, [target.id], field)[0]
        elif target.type == "schedule":
            row.schedule = session.get(Schedule, target.id)
            if row.schedule is None:
                raise InvalidInput(f"No schedule with id {target.id}.", field=field)
        else:
            row.team = session.get(Team, target.id)
            if row.team is None:
                raise InvalidInput(f"No team with id {target.id}.", field=field)
        rows.append(row)
    return rows


def _level(session: Session, data: LevelIn, position: int, field: str) -> EscalationLevel:
    return EscalationLevel(
        position=position,
        delay_minutes=data.delay_minutes,
        targets=_targets(session, data.targets, field),
    )


def _levels_summary(policy: EscalationPolicy) -> str:
    parts = [
        f"{n}. {', '.join(t.label for t in level.targets)} ({level.delay_minutes} min)"
        for n, level in enumerate(levels_of(policy), start=1)
    ]
    return "; ".join(parts) or "no levels"


def create_policy(session: Session, actor: User, data: PolicyCreate) -> EscalationPolicy:
    team = owner_for_input(session, actor, data.team_id, "create escalation policies")
    unique_name(session, EscalationPolicy, data.name)
    policy = EscalationPolicy(
        name=data.name, description=data.description, repeat_count=data.repeat_count, team=team
    )
    policy.levels = [
        _level(session, level, n, f"levels.{n}.targets") for n, level in enumerate(data.levels)
    ]
    session.add(policy)
    session.flush()
    audit.record(
        session,
        actor.id,
        "escalation_policy.created",
        "escalation_policy",
        policy.id,
        f"Escalation policy {policy.name} created: {_levels_summary(policy)}",
    )
    session.commit()
    return policy


def update_policy(
    session: Session, actor: User, policy_id: int, data: PolicyUpdate
) -> EscalationPolicy:
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    if data.name is not None:
        unique_name(session, EscalationPolicy, data.name, policy.id)
        policy.name = data.name
    if data.description is not None:
        policy.description = data.description
    if data.repeat_count is not None:
        policy.repeat_count = data.repeat_count
    if "team_id" in data.model_fields_set:
        policy.team = owner_for_input(session, actor, data.team_id, "change owners")
    audit.record(
        session,
        actor.id,
        "escalation_policy.updated",
        "escalation_policy",
        policy.id,
        f"Escalation policy {policy.name} changed",
        data.model_dump(mode="json", exclude_unset=True),
    )
    session.commit()
    return policy


def delete_policy(session: Session, actor: User, policy_id: int) -> None:
    """Refused while a service uses it: alerts of that service would page nobody."""
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"remove {policy.name}")
    using = services_of(session, policy.id)
    if using:
        names = ", ".join(s.name for s in using)
        raise Conflict(
            f"{names} use {policy.name}; give them another escalation policy first.",
            field="policy_id",
        )
    audit.record(
        session,
        actor.id,
        "escalation_policy.deleted",
        "escalation_policy",
        policy.id,
        f"Escalation policy {policy.name} removed",
    )
    session.delete(policy)
    session.commit()


def _levels_changed(session: Session, actor: User, policy: EscalationPolicy, what: str) -> None:
    session.flush()
    session.expire(policy, ["levels"])
    audit.record(
        session,
        actor.id,
        "escalation_policy.levels",
        "escalation_policy",
        policy.id,
        f"{what} in {policy.name}: {_levels_summary(policy)}",
    )
    session.commit()


def replace_levels(
    session: Session, actor: User, policy_id: int, levels: list[LevelIn]
) -> EscalationPolicy:
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    fresh = [_level(session, level, n, f"levels.{n}.targets") for n, level in enumerate(levels)]
    policy.levels = fresh
    _levels_changed(session, actor, policy, "Levels set")
    return policy


def _level_of(policy: EscalationPolicy, level_id: int) -> EscalationLevel:
    for level in policy.levels:
        if level.id == level_id:
            return level
    raise NotFound(f"No level {level_id} in {policy.name}.", field="level_id")


def add_level(session: Session, actor: User, policy_id: int, data: LevelIn) -> EscalationLevel:
    """A new level goes last."""
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    if len(policy.levels) >= 20:
        raise Conflict(f"{policy.name} already has 20 levels.", field="policy_id")
    level = _level(session, data, len(policy.levels), "targets")
    policy.levels.append(level)
    _levels_changed(session, actor, policy, f"Level {level.position + 1} added")
    return level


def update_level(
    session: Session, actor: User, policy_id: int, level_id: int, data: LevelIn
) -> EscalationLevel:
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    level = _level_of(policy, level_id)
    level.delay_minutes = data.delay_minutes
    level.targets = _targets(session, data.targets, "targets")
    _levels_changed(session, actor, policy, f"Level {level.position + 1} changed")
    return level


def delete_level(session: Session, actor: User, policy_id: int, level_id: int) -> None:
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    level = _level_of(policy, level_id)
    number = level.position + 1
    policy.levels.remove(level)
    for position, kept in enumerate(sorted(policy.levels, key=lambda lv: lv.position)):
        kept.position = position
    _levels_changed(session, actor, policy, f"Level {number} removed")


def reorder_levels(
    session: Session, actor: User, policy_id: int, level_ids: list[int]
) -> EscalationPolicy:
    policy = get_policy(session, policy_id)
    require_editor(actor, policy.team, f"change {policy.name}")
    if sorted(level_ids) != sorted(level.id for level in policy.levels):
        raise InvalidInput(f"Name each level of {policy.name} exactly once.", field="level_ids")
    by_id = {level.id: level for level in policy.levels}
    for position, level_id in enumerate(level_ids):
        by_id[level_id].position = position
    _levels_changed(session, actor, policy, "Levels reordered")
    return policy


def move_level(
    session: Session, actor: User, policy_id: int, level_id: int, up: bool
) -> EscalationPolicy:
    """One step earlier (`up`) or later; at the end already, nothing changes."""
    policy = get_policy(session, policy_id)
    order = [level.id for level in levels_of(policy)]
    index = order.index(_level_of(policy, level_id).id)
    other = index + (-1 if up else 1)
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    return reorder_levels(session, actor, policy_id, order)
