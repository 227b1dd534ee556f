"""Turns on call over a span of time: a schedule's rows read into rotation rules, as shifts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.db import now
from tocsin.errors import InvalidInput
from tocsin.oncall import rotation
from tocsin.oncall.models import LayerParticipant, Schedule, ScheduleLayer, ScheduleOverride
from tocsin.oncall.schedules import get_schedule, layer_name
from tocsin.oncall.schemas import DAY_KEYS

DEFAULT_SPAN = timedelta(days=14)
MAX_SPAN = timedelta(days=366)


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
        name=layer_name(layer),
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
        return "Override" if self.layer is None else layer_name(self.layer)


def _users(session: Session, ids: Iterable[int]) -> dict[int, User]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def shifts_of(
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
    return shifts_of(session, schedule, begin, finish)


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
        for shift in shifts_of(session, schedule, begin, finish)
        if shift.user.id == user.id
    ]
    return sorted(mine, key=lambda s: (s.start, s.schedule.name))
