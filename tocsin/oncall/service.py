"""On-call schedules and escalation policies: defining them, and asking who is on call.

Everyone logged in reads; admins and members of the owning team (responders) change a
schedule or a policy. Each change is audited and commits on its own. The paging engine
calls `policy_of_service`, `levels_of` and `resolve_targets`; they never write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth import service as auth
from tocsin.auth.models import Role, Team, User
from tocsin.auth.permissions import has_role, require_responder
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.db import now, row_named
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.oncall import calendar, rotation
from tocsin.oncall.models import (
    CalendarFeed,
    EscalationLevel,
    EscalationPolicy,
    EscalationTarget,
    LayerParticipant,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    ServiceEscalationPolicy,
)
from tocsin.oncall.schemas import (
    DAY_KEYS,
    LayerIn,
    LevelIn,
    OverrideCreate,
    PolicyCreate,
    PolicyUpdate,
    ScheduleCreate,
    ScheduleUpdate,
    ServicePolicySet,
    TargetIn,
)

FEED_PREFIX = "ics"
DEFAULT_SPAN = timedelta(days=14)
MAX_SPAN = timedelta(days=366)
# How far ahead "until" looks: a one-person rotation has no end in sight.
UNTIL_HORIZON = timedelta(days=60)
# What a calendar feed holds, around the day it is fetched.
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)

# ---------------------------------------------------------------- who may change what


def may_edit(actor: User, team: Team | None) -> bool:
    """Admins, and responders in the owning team, change a schedule or policy."""
    if not has_role(actor, Role.RESPONDER):
        return False
    return actor.is_admin or _member(actor, team)


def _member(actor: User, team: Team | None) -> bool:
    return team is not None and any(m.id == actor.id for m in team.members)


def require_editor(actor: User, team: Team | None, doing: str) -> None:
    require_responder(actor, doing)
    if actor.is_admin:
        return
    if team is None:
        raise Forbidden(f"Only admins can {doing}: it belongs to no team.")
    if not _member(actor, team):
        raise Forbidden(f"Only admins and members of {team.name} can {doing}.")


def _owner_for_input(session: Session, actor: User, team_id: int | None, doing: str) -> Team | None:
    """The owning team a body names; non-admins must name a team of their own."""
    require_responder(actor, doing)
    if team_id is None:
        if not actor.is_admin:
            raise Forbidden(
                f"Name your team as the owner to {doing}; only admins keep things without a team.",
                field="team_id",
            )
        return None
    try:
        team = auth.get_team(session, team_id)
    except NotFound as missing:
        raise InvalidInput(missing.message, field="team_id") from None
    if not actor.is_admin and not _member(actor, team):
        raise Forbidden(f"You can only give this to a team you are in, not {team.name}.")
    return team


def _responders(session: Session, ids: list[int], field: str) -> list[User]:
    """The people with these ids, in the same order (repeats kept), each able to be on call."""
    wanted = set(ids)
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
    for user_id in ids:
        user = found.get(user_id)
        if user is None or not user.is_active:
            raise InvalidInput(f"No active user with id {user_id}.", field=field)
        if user.role == Role.VIEWER.value:
            raise InvalidInput(
                f"{user.name} is a viewer; only responders and admins can be on call.", field=field
            )
    return [found[i] for i in ids]


def _unique_name(session: Session, model: type, name: str, own_id: int | None = None) -> None:
    clash = row_named(session, model, name)
    if clash is not None and clash.id != own_id:
        raise Conflict(f"{name!r} already exists.", field="name")


# ---------------------------------------------------------------- schedules


def list_schedules(session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def get_schedule(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule with id {schedule_id}.", field="schedule_id")
    return schedule


def _restrictions(data: LayerIn) -> list[dict[str, Any]]:
    return [
        {
            "days": [d for d in DAY_KEYS if d in r.days],
            "start": r.start.strftime("%H:%M"),
            "end": r.end.strftime("%H:%M"),
        }
        for r in data.restrictions
    ]


def _fill_layer(session: Session, layer: ScheduleLayer, data: LayerIn, field: str) -> None:
    people = _responders(session, list(data.participant_ids), field)
    layer.name = data.name
    layer.shift_unit = data.shift_unit.value
    layer.shift_length = data.shift_length
    layer.handoff_time = data.handoff_time
    if isinstance(data.start, datetime):
        layer.start_date, layer.start_time = data.start.date(), data.start.time()
    else:
        layer.start_date, layer.start_time = data.start, None
    layer.restrictions = _restrictions(data)
    layer.participants = [
        LayerParticipant(position=n, user_id=user.id, user=user) for n, user in enumerate(people)
    ]


def _layer_summary(layer: ScheduleLayer) -> str:
    people = ", ".join(p.user.name for p in layer.participants)
    unit = layer.shift_unit if layer.shift_length != 1 else layer.shift_unit.removesuffix("s")
    return f"{layer.shift_length} {unit} shifts of {people}"


def create_schedule(session: Session, actor: User, data: ScheduleCreate) -> Schedule:
    team = _owner_for_input(session, actor, data.team_id, "create schedules")
    _unique_name(session, Schedule, data.name)
    schedule = Schedule(
        name=data.name, description=data.description, time_zone=data.time_zone, team=team
    )
    for position, layer_data in enumerate(data.layers):
        layer = ScheduleLayer(position=position)
        _fill_layer(session, layer, layer_data, f"layers.{position}.participant_ids")
        schedule.layers.append(layer)
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.created",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} created ({schedule.time_zone}, {len(data.layers)} layers)",
    )
    session.commit()
    return schedule


def update_schedule(
    session: Session, actor: User, schedule_id: int, data: ScheduleUpdate
) -> Schedule:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if data.name is not None:
        _unique_name(session, Schedule, data.name, schedule.id)
        schedule.name = data.name
    if data.description is not None:
        schedule.description = data.description
    if data.time_zone is not None:
        schedule.time_zone = data.time_zone
    if "team_id" in data.model_fields_set:
        schedule.team = _owner_for_input(session, actor, data.team_id, "change owners")
    audit.record(
        session,
        actor.id,
        "schedule.updated",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} changed",
        data.model_dump(mode="json", exclude_unset=True),
    )
    session.commit()
    return schedule


def delete_schedule(session: Session, actor: User, schedule_id: int) -> None:
    """Refused while an escalation policy pages it: that policy would page nobody."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"remove {schedule.name}")
    users = session.scalars(
        select(EscalationPolicy.name)
        .join(EscalationLevel, EscalationLevel.policy_id == EscalationPolicy.id)
        .join(EscalationTarget, EscalationTarget.level_id == EscalationLevel.id)
        .where(EscalationTarget.schedule_id == schedule.id)
        .distinct()
    ).all()
    if users:
        raise Conflict(
            f"{schedule.name} is paged by the escalation policies {', '.join(sorted(users))}; "
            "take it out of them first.",
            field="schedule_id",
        )
    audit.record(
        session,
        actor.id,
        "schedule.deleted",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} removed",
    )
    session.delete(schedule)
    session.commit()


def _layer_of(schedule: Schedule, layer_id: int) -> ScheduleLayer:
    for layer in schedule.layers:
        if layer.id == layer_id:
            return layer
    raise NotFound(f"No layer {layer_id} in {schedule.name}.", field="layer_id")


def _layer_name(layer: ScheduleLayer) -> str:
    return layer.name or f"Layer {layer.position + 1}"


def add_layer(session: Session, actor: User, schedule_id: int, data: LayerIn) -> ScheduleLayer:
    """A new layer goes on top: it wins over the others where it has someone."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if len(schedule.layers) >= 10:
        raise Conflict(f"{schedule.name} already has 10 layers.", field="schedule_id")
    layer = ScheduleLayer(position=len(schedule.layers))
    _fill_layer(session, layer, data, "participant_ids")
    schedule.layers.append(layer)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.layer_added",
        "schedule",
        schedule.id,
        f"{_layer_name(layer)} added to {schedule.name}: {_layer_summary(layer)}",
    )
    session.commit()
    return layer


def update_layer(
    session: Session, actor: User, schedule_id: int, layer_id: int, data: LayerIn
) -> ScheduleLayer:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    layer = _layer_of(schedule, layer_id)
    _fill_layer(session, layer, data, "participant_ids")
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.layer_changed",
        "schedule",
        schedule.id,
        f"{_layer_name(layer)} of {schedule.name} changed: {_layer_summary(layer)}",
    )
    session.commit()
    return layer


def delete_layer(session: Session, actor: User, schedule_id: int, layer_id: int) -> None:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    layer = _layer_of(schedule, layer_id)
    name = _layer_name(layer)
    schedule.layers.remove(layer)
    for position, kept in enumerate(schedule.layers):
        kept.position = position
    audit.record(
        session,
        actor.id,
        "schedule.layer_removed",
        "schedule",
        schedule.id,
        f"{name} removed from {schedule.name}",
    )
    session.commit()


def reorder_layers(
    session: Session, actor: User, schedule_id: int, layer_ids: list[int]
) -> Schedule:
    """Bottom layer first; the last one wins where it has someone."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if sorted(layer_ids) != sorted(layer.id for layer in schedule.layers):
        raise InvalidInput(f"Name each layer of {schedule.name} exactly once.", field="layer_ids")
    by_id = {layer.id: layer for layer in schedule.layers}
    for position, layer_id in enumerate(layer_ids):
        by_id[layer_id].position = position
    session.flush()
    session.expire(schedule, ["layers"])
    audit.record(
        session,
        actor.id,
        "schedule.layers_reordered",
        "schedule",
        schedule.id,
        f"Layers of {schedule.name} reordered",
        {"layer_ids": layer_ids},
    )
    session.commit()
    return schedule


def move_layer(
    session: Session, actor: User, schedule_id: int, layer_id: int, up: bool
) -> Schedule:
    """One step up (towards winning) or down; at the end already, nothing changes."""
    schedule = get_schedule(session, schedule_id)
    order = [layer.id for layer in schedule.layers]
    index = order.index(_layer_of(schedule, layer_id).id)
    other = index + (1 if up else -1)
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    return reorder_layers(session, actor, schedule_id, order)


# ---------------------------------------------------------------- overrides


def list_overrides(
    session: Session, schedule_id: int, *, current_and_future: bool = True
) -> list[ScheduleOverride]:
    get_schedule(session, schedule_id)
    query = (
        select(ScheduleOverride)
        .where(ScheduleOverride.schedule_id == schedule_id)
        .order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    )
    if current_and_future:
        query = query.where(ScheduleOverride.ends_at > now())
    return list(session.scalars(query))


def create_override(
    session: Session, actor: User, schedule_id: int, data: OverrideCreate
) -> ScheduleOverride:
    """`data.user_id` is on call over every layer until `ends_at`, from `starts_at` or now,
    whichever is later."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"add overrides to {schedule.name}")
    user = _responders(session, [data.user_id], "user_id")[0]
    moment = now()
    if data.ends_at <= moment:
        raise InvalidInput("The override is over already: end it in the future.", field="ends_at")
    override = ScheduleOverride(
        schedule_id=schedule.id,
        user=user,
        # Who was on call stays as it was: an override asked to start in the past starts now.
        starts_at=max(data.starts_at, moment),
        ends_at=data.ends_at,
        note=data.note,
        created_by_id=actor.id,
    )
    session.add(override)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.override_added",
        "schedule",
        schedule.id,
        f"{user.name} on call in {schedule.name} from {override.starts_at:%Y-%m-%d %H:%M} UTC "
        f"for {override.ends_at - override.starts_at}",
        {"override_id": override.id, "user_id": user.id},
    )
    session.commit()
    return override


def delete_override(session: Session, actor: User, schedule_id: int, override_id: int) -> None:
    """A future override goes; a running one ends now; a past one is history and stays."""
    schedule = get_schedule(session, schedule_id)
    override = session.get(ScheduleOverride, override_id)
    if override is None or override.schedule_id != schedule.id:
        raise NotFound(f"No override {override_id} in {schedule.name}.", field="override_id")
    require_editor(actor, schedule.team, f"remove overrides of {schedule.name}")
    moment = now()
    if override.ends_at <= moment:
        raise Conflict("This override is over; past turns on call stay as they were.")
    if override.starts_at > moment:
        session.delete(override)
    else:
        override.ends_at = moment
    audit.record(
        session,
        actor.id,
        "schedule.override_removed",
        "schedule",
        schedule.id,
        f"Override of {override.user.name} in {schedule.name} removed",
        {"override_id": override_id},
    )
    session.commit()


# ---------------------------------------------------------------- who is on call when


def _windows(layer: ScheduleLayer) -> tuple[rotation.Window, ...]:
    return tuple(
        rotation.Window(
            time.fromisoformat(r["start"]),
            time.fromisoformat(r["end"]),
            frozenset(DAY_KEYS.index(d) for d in r["days"]),
        )
        for r in layer.restrictions or []
    )


def rotation_layer(layer: ScheduleLayer) -> rotation.Layer:
    return rotation.Layer(
        participants=tuple(p.user_id for p in layer.participants),
        shift_length=layer.shift_length,
        shift_unit=rotation.ShiftUnit(layer.shift_unit),
        handoff=layer.handoff_time,
        start=layer.start,
        windows=_windows(layer),
        name=_layer_name(layer),
    )


@dataclass
class Plan:
    """A schedule's rules as the rotation module takes them, with the rows they came from."""

    schedule: Schedule
    layers: list[ScheduleLayer]
    overrides: list[ScheduleOverride]
    rules: rotation.Schedule

    def rows_of(
        self, source: rotation.Source
    ) -> tuple[ScheduleLayer | None, ScheduleOverride | None]:
        if source.kind == "override":
            return None, self.overrides[source.index]
        return self.layers[source.index], None


def plan_of(session: Session, schedule: Schedule, start: datetime, end: datetime) -> Plan:
    """The schedule's layers, and its overrides touching [start, end) (later ones win)."""
    overrides = list(
        session.scalars(
            select(ScheduleOverride)
            .where(
                ScheduleOverride.schedule_id == schedule.id,
                ScheduleOverride.starts_at < end,
                ScheduleOverride.ends_at > start,
            )
            .order_by(ScheduleOverride.id)
        )
    )
    layers = list(schedule.layers)
    rules = rotation.Schedule(
        time_zone=schedule.time_zone,
        layers=tuple(rotation_layer(layer) for layer in layers),
        overrides=tuple(rotation.Override(o.user_id, o.starts_at, o.ends_at) for o in overrides),
    )
    named = {o.user_id for o in overrides} | {
        user_id for layer in rules.layers for user_id in layer.participants
    }
    if named:
        inactive = select(User.id).where(User.id.in_(named), User.is_active.is_(False))
        rules = replace(rules, absent=frozenset(session.scalars(inactive)))
    return Plan(schedule, layers, overrides, rules)


@dataclass(frozen=True)
class ScheduledShift:
    """A turn on call, with the person and where it comes from."""

    schedule: Schedule
    user: User
    start: datetime
    end: datetime
    layer: ScheduleLayer | None
    override: ScheduleOverride | None

    @property
    def source(self) -> Literal["layer", "override"]:
        return "override" if self.override is not None else "layer"

    @property
    def layer_id(self) -> int | None:
        return self.layer.id if self.layer else None

    @property
    def override_id(self) -> int | None:
        return self.override.id if self.override else None

    @property
    def source_label(self) -> str:
        return "Override" if self.layer is None else _layer_name(self.layer)


def _users(session: Session, ids: Iterable[int]) -> dict[int, User]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def _shifts(
    session: Session, schedule: Schedule, start: datetime, end: datetime
) -> list[ScheduledShift]:
    plan = plan_of(session, schedule, start, end)
    found = rotation.shifts(plan.rules, start, end)
    people = _users(session, {s.user_id for s in found})
    return [
        ScheduledShift(schedule, people[s.user_id], s.start, s.end, *plan.rows_of(s.source))
        for s in found
        if s.user_id in people
    ]


def check_span(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """A range to show shifts over: by default two weeks from now; at most a year and a day."""
    begin = start or now()
    finish = end or begin + DEFAULT_SPAN
    if finish <= begin:
        raise InvalidInput("end must be after start.", field="end")
    if finish - begin > MAX_SPAN:
        raise InvalidInput("Ask for at most 366 days of shifts at once.", field="end")
    return begin, finish


def shifts_between(
    session: Session, schedule_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[ScheduledShift]:
    """Every turn on call over [start, end), clipped to it; one person's turns in a row merge."""
    schedule = get_schedule(session, schedule_id)
    begin, finish = check_span(start, end)
    return _shifts(session, schedule, begin, finish)


@dataclass(frozen=True)
class OnCallNow:
    schedule: Schedule
    at: datetime
    user: User | None
    layer: ScheduleLayer | None = None
    override: ScheduleOverride | None = None
    until: datetime | None = None

    @property
    def source(self) -> Literal["layer", "override"] | None:
        if self.user is None:
            return None
        return "override" if self.override is not None else "layer"

    @property
    def layer_id(self) -> int | None:
        return self.layer.id if self.layer else None

    @property
    def override_id(self) -> int | None:
        return self.override.id if self.override else None


def _on_call(session: Session, schedule: Schedule, at: datetime) -> OnCallNow:
    plan = plan_of(session, schedule, at, at + UNTIL_HORIZON)
    found = rotation.on_call_at(plan.rules, at)
    if found is None:
        return OnCallNow(schedule, at, None)
    user = session.get(User, found.user_id)
    turn = rotation.shifts(plan.rules, at, at + UNTIL_HORIZON)
    until = turn[0].end if turn and turn[0].end < at + UNTIL_HORIZON else None
    return OnCallNow(schedule, at, user, *plan.rows_of(found.source), until=until)


def on_call_now(session: Session, schedule_id: int, at: datetime | None = None) -> OnCallNow:
    """Who the schedule has on call at `at` (default now), from which layer or override, and
    until when."""
    return _on_call(session, get_schedule(session, schedule_id), at or now())


# ---------------------------------------------------------------- escalation policies


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
            row.user = _responders(session, [target.id], field)[0]
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
    team = _owner_for_input(session, actor, data.team_id, "create escalation policies")
    _unique_name(session, EscalationPolicy, data.name)
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
        _unique_name(session, EscalationPolicy, data.name, policy.id)
        policy.name = data.name
    if data.description is not None:
        policy.description = data.description
    if data.repeat_count is not None:
        policy.repeat_count = data.repeat_count
    if "team_id" in data.model_fields_set:
        policy.team = _owner_for_input(session, actor, data.team_id, "change owners")
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


# ---------------------------------------------------------------- services and their policies


def policy_of_service(session: Session, service_id: int) -> EscalationPolicy | None:
    """The escalation policy that pages for the service, or None (nobody is paged)."""
    link = session.get(ServiceEscalationPolicy, service_id)
    return session.get(EscalationPolicy, link.policy_id) if link else None


def service_policy(session: Session, service_id: int) -> tuple[Service, EscalationPolicy | None]:
    """The service (404 when unknown) and its escalation policy."""
    return catalogue.get_service(session, service_id), policy_of_service(session, service_id)


def services_of(session: Session, policy_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .join(ServiceEscalationPolicy, ServiceEscalationPolicy.service_id == Service.id)
            .where(ServiceEscalationPolicy.policy_id == policy_id)
            .order_by(Service.name)
        )
    )


def set_service_policy(
    session: Session, actor: User, service_id: int, data: ServicePolicySet
) -> tuple[Service, EscalationPolicy | None]:
    """Admins and the service's owning team choose who its alerts page."""
    service = catalogue.get_service(session, service_id)
    require_editor(actor, service.team, f"choose the escalation policy of {service.name}")
    policy_id = data.escalation_policy_id
    policy = None
    if policy_id is not None:
        policy = session.get(EscalationPolicy, policy_id)
        if policy is None:
            raise InvalidInput(
                f"No escalation policy with id {policy_id}.", field="escalation_policy_id"
            )
    link = session.get(ServiceEscalationPolicy, service.id)
    if policy is None:
        if link is not None:
            session.delete(link)
    elif link is None:
        session.add(ServiceEscalationPolicy(service_id=service.id, policy_id=policy.id))
    else:
        link.policy_id = policy.id
    audit.record(
        session,
        actor.id,
        "service.escalation_policy",
        "service",
        service.id,
        f"{service.name} pages through {policy.name}"
        if policy
        else f"{service.name} has no escalation policy now: its alerts page nobody",
        {"escalation_policy_id": policy.id if policy else None},
    )
    session.commit()
    return service, policy


# ---------------------------------------------------------------- for the paging engine


@dataclass(frozen=True)
class Reached:
    """A person a level reaches, and how: named, on call in a schedule, or in a team."""

    user: User
    via: str
    until: datetime | None = None


def _can_be_paged(user: User) -> bool:
    return user.is_active and user.role != Role.VIEWER.value


def reach(
    session: Session,
    level: EscalationLevel,
    at: datetime,
    on_call: dict[int, OnCallNow] | None = None,
) -> list[Reached]:
    """Who the level's targets name at `at`, each once, in the targets' order."""
    cache = on_call if on_call is not None else {}
    found: list[Reached] = []
    seen: set[int] = set()
    for target in sorted(level.targets, key=lambda t: t.position):
        if target.user is not None:
            people = [Reached(target.user, "named")]
        elif target.schedule is not None:
            if target.schedule.id not in cache:
                cache[target.schedule.id] = _on_call(session, target.schedule, at)
            now_on = cache[target.schedule.id]
            people = (
                [Reached(now_on.user, f"on call in {target.schedule.name}", now_on.until)]
                if now_on.user
                else []
            )
        else:
            people = [Reached(u, f"in {target.team.name}") for u in target.team.members]
        for person in people:
            if person.user.id not in seen and _can_be_paged(person.user):
                seen.add(person.user.id)
                found.append(person)
    return found


def schedule_exists(session: Session, schedule_id: int) -> bool:
    return session.get(Schedule, schedule_id) is not None


def people_on_call(session: Session, schedule_id: int, at: datetime) -> list[User]:
    """Whoever the schedule has on call at `at`, as a list (empty: nobody, or no such
    schedule), active responders and admins only."""
    schedule = session.get(Schedule, schedule_id)
    found = _on_call(session, schedule, at).user if schedule is not None else None
    return [found] if found is not None and _can_be_paged(found) else []


def resolve_targets(session: Session, level: EscalationLevel, at: datetime) -> list[User]:
    """The people to page for `level` at `at`: named users, whoever each schedule has on
    call then, and every member of each team; each once, active responders and admins only."""
    return [r.user for r in reach(session, level, at)]


@dataclass
class ServiceOnCall:
    service: Service
    escalation_policy: EscalationPolicy | None
    on_call: list[Reached] = field(default_factory=list)


def who_is_on_call(session: Session, at: datetime | None = None) -> list[ServiceOnCall]:
    """Every service, with who its policy's first level pages at `at` (default now)."""
    moment = at or now()
    policies = {
        link.service_id: link.policy_id for link in session.scalars(select(ServiceEscalationPolicy))
    }
    cache: dict[int, OnCallNow] = {}
    rows = []
    for service in catalogue.list_services(session):
        policy = (
            session.get(EscalationPolicy, policies[service.id]) if service.id in policies else None
        )
        row = ServiceOnCall(service, policy)
        levels = levels_of(policy) if policy else []
        if levels:
            row.on_call = reach(session, levels[0], moment, cache)
        rows.append(row)
    return rows


def schedules_of(session: Session, user: User) -> list[Schedule]:
    """The schedules the person takes turns in, or has an override in."""
    in_layers = (
        select(ScheduleLayer.schedule_id)
        .join(LayerParticipant, LayerParticipant.layer_id == ScheduleLayer.id)
        .where(LayerParticipant.user_id == user.id)
    )
    overriding = select(ScheduleOverride.schedule_id).where(ScheduleOverride.user_id == user.id)
    query = (
        select(Schedule).where(Schedule.id.in_(in_layers.union(overriding))).order_by(Schedule.name)
    )
    return list(session.scalars(query))


def my_shifts(
    session: Session, user: User, start: datetime | None = None, end: datetime | None = None
) -> list[ScheduledShift]:
    """The person's own turns on call over [start, end), in every schedule, in time order."""
    begin, finish = check_span(start, end)
    mine = [
        shift
        for schedule in schedules_of(session, user)
        for shift in _shifts(session, schedule, begin, finish)
        if shift.user.id == user.id
    ]
    return sorted(mine, key=lambda s: (s.start, s.schedule.name))


# ---------------------------------------------------------------- calendar feeds


def feed_of(
    session: Session, *, schedule_id: int | None = None, user_id: int | None = None
) -> CalendarFeed | None:
    if schedule_id is not None:
        return session.scalar(select(CalendarFeed).where(CalendarFeed.schedule_id == schedule_id))
    return session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user_id))


def _rotate(session: Session, feed: CalendarFeed | None, **owner: int) -> tuple[CalendarFeed, str]:
    token, lookup, digest = secrets.new_keyed_secret(FEED_PREFIX)
    if feed is None:
        feed = CalendarFeed(**owner)
        session.add(feed)
    feed.lookup, feed.secret_hash, feed.created_at = lookup, digest, now()
    return feed, token


def rotate_schedule_feed(session: Session, actor: User, schedule_id: int) -> str:
    """A new secret feed URL for the schedule; the old one stops working. Returns the token."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"rotate the calendar feed of {schedule.name}")
    _feed, token = _rotate(
        session, feed_of(session, schedule_id=schedule.id), schedule_id=schedule.id
    )
    audit.record(
        session,
        actor.id,
        "schedule.feed_rotated",
        "schedule",
        schedule.id,
        f"Calendar feed of {schedule.name} rotated",
    )
    session.commit()
    return token


def rotate_personal_feed(session: Session, actor: User) -> str:
    """A new secret URL for the person's own shifts; the old one stops working.

    Viewers are never on call, so they have no shifts to subscribe to."""
    require_responder(actor, "have on-call shifts in a calendar")
    _feed, token = _rotate(session, feed_of(session, user_id=actor.id), user_id=actor.id)
    audit.record(
        session, actor.id, "user.feed_rotated", "user", actor.id, "Personal calendar feed rotated"
    )
    session.commit()
    return token


def _feed_for(session: Session, token: str) -> CalendarFeed | None:
    parts = secrets.split_keyed_secret(token, FEED_PREFIX) if isinstance(token, str) else None
    if parts is None:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.lookup == parts[0]))
    if feed is None or not secrets.same_secret(parts[1], feed.secret_hash):
        return None
    return feed


def schedule_by_feed(session: Session, schedule_id: int, token: str) -> Schedule:
    """The schedule this secret opens; any mismatch is a plain 404, saying nothing more."""
    feed = _feed_for(session, token)
    if feed is None or feed.schedule_id != schedule_id:
        raise NotFound("No such calendar feed; it may have been rotated.")
    return get_schedule(session, schedule_id)


def user_by_feed(session: Session, user_id: int, token: str) -> User:
    feed = _feed_for(session, token)
    user = session.get(User, user_id) if feed is not None and feed.user_id == user_id else None
    if user is None or not user.is_active:
        raise NotFound("No such calendar feed; it may have been rotated.")
    return user


def schedule_feed_path(schedule_id: int, token: str) -> str:
    return f"/oncall/schedules/{schedule_id}/calendar.ics?token={token}"


def personal_feed_path(user_id: int, token: str) -> str:
    return f"/oncall/users/{user_id}/calendar.ics?token={token}"


def _feed_window(at: datetime) -> tuple[datetime, datetime]:
    """Whole days around `at`, so every fetch on one day gives the same events."""
    day = datetime.combine(at.date(), time(0), tzinfo=at.tzinfo)
    return day - FEED_PAST, day + FEED_FUTURE


def schedule_calendar(session: Session, schedule: Schedule, base_url: str) -> bytes:
    start, end = _feed_window(now())
    found = _shifts(session, schedule, start, end)
    events = [
        calendar.Event(
            uid=calendar.uid(schedule.id, s.user.id, s.start),
            start=s.start,
            end=s.end,
            summary=f"On call: {s.user.name}",
            description=f"{s.user.name} is on call in {schedule.name} ({s.source_label}).",
            url=f"{base_url.rstrip('/')}/oncall/schedules/{schedule.id}",
        )
        for s in found
    ]
    return calendar.render(f"On call: {schedule.name}", events, now())


def personal_calendar(session: Session, user: User, base_url: str) -> bytes:
    start, end = _feed_window(now())
    events = [
        calendar.Event(
            uid=calendar.uid(s.schedule.id, user.id, s.start),
            start=s.start,
            end=s.end,
            summary=f"On call: {s.schedule.name}",
            description=f"You are on call in {s.schedule.name} ({s.source_label}).",
            url=f"{base_url.rstrip('/')}/oncall/schedules/{s.schedule.id}",
        )
        for s in my_shifts(session, user, start, end)
    ]
    return calendar.render(f"My on-call shifts ({user.name})", events, now())
