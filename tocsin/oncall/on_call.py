"""Who is on call at a moment: per schedule, per escalation level and per service; never writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.auth.models import Role, User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.db import now
from tocsin.oncall import rotation
from tocsin.oncall.escalation_policies import levels_of
from tocsin.oncall.models import (
    EscalationLevel,
    EscalationPolicy,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    ServiceEscalationPolicy,
)
from tocsin.oncall.schedules import get_schedule
from tocsin.oncall.shifts import plan_of

# How far ahead "until" looks: a one-person rotation has no end in sight.
UNTIL_HORIZON = timedelta(days=60)


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
