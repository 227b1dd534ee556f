"""Whom a page reaches at each level: the service's escalation policy, or explicit targets.

The one place paging asks the on-call domain (policies, schedules) who is on call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.auth.models import Team, User
from tocsin.paging.models import Page

# An explicit page (the incident manager paging someone) is one level, tried once more
# after this many minutes if nobody acknowledges.
DIRECT_PAGE_DELAYS = [5]
DIRECT_PAGE_REPEAT = 1


@dataclass
class Plan:
    delays: list[int]
    repeat: int
    people: Callable[[int], list[User]]
    why_nobody: str = ""
    _cache: dict[int, list[User]] = field(default_factory=dict)

    def people_at(self, level_index: int) -> list[User]:
        if level_index not in self._cache:
            self._cache[level_index] = _unique_active(self.people(level_index))
        return self._cache[level_index]


def _unique_active(people: list[User]) -> list[User]:
    seen: dict[int, User] = {}
    for person in people:
        if person.is_active and person.id not in seen:
            seen[person.id] = person
    return list(seen.values())


def plan(session: Session, page: Page, at: datetime) -> Plan:
    if page.targets:
        return Plan(
            delays=DIRECT_PAGE_DELAYS,
            repeat=DIRECT_PAGE_REPEAT,
            people=lambda _level: expand(session, page.targets, at),
            why_nobody="none of the chosen people can be reached right now",
        )
    from tocsin.oncall import service as oncall

    why = nobody_reason(session, page)
    if why is not None:
        return Plan(delays=[], repeat=0, people=lambda _level: [], why_nobody=why)
    policy = oncall.policy_of_service(session, page.service_id)
    levels = oncall.levels_of(policy)
    return Plan(
        delays=[level.delay_minutes for level in levels],
        repeat=policy.repeat,
        people=lambda index: oncall.resolve_targets(session, levels[index], at),
        why_nobody="nobody is on call for this level",
    )


def nobody_reason(session: Session, page: Page) -> str | None:
    """Why a page of a service's on-call can page nobody at all ("checkout has no escalation
    policy"); None when its policy has levels (or it pages chosen people)."""
    if page.targets:
        return None
    from tocsin.catalogue.models import Service
    from tocsin.oncall import service as oncall

    service = session.get(Service, page.service_id) if page.service_id else None
    if service is None:
        return "no faulty service is named"
    policy = oncall.policy_of_service(session, service.id)
    if policy is None:
        return f"{service.name} has no escalation policy"
    if not oncall.levels_of(policy):
        return f"the escalation policy {policy.name} of {service.name} has no levels"
    return None


def expand(session: Session, targets: list[dict], at: datetime) -> list[User]:
    """People behind explicit targets: users, team members, a schedule's or service's on-call."""
    people: list[User] = []
    for target in targets:
        kind, target_id = target["kind"], int(target["id"])
        if kind == "user":
            user = session.get(User, target_id)
            people += [user] if user else []
        elif kind == "team":
            team = session.get(Team, target_id)  # a team deleted since pages nobody
            people += team.members if team is not None else []
        elif kind == "schedule":
            from tocsin.oncall import service as oncall

            people += oncall.people_on_call(session, target_id, at)
        elif kind == "service":
            from tocsin.oncall import service as oncall

            policy = oncall.policy_of_service(session, target_id)
            levels = oncall.levels_of(policy) if policy else []
            people += oncall.resolve_targets(session, levels[0], at) if levels else []
    return _unique_active(people)


def describe(session: Session, page: Page) -> str:
    """'the escalation policy of payments' or 'Alice, the Database team'."""
    if not page.targets:
        from tocsin.catalogue.models import Service

        why_nobody = nobody_reason(session, page)
        if why_nobody is not None:
            return f"nobody: {why_nobody}"
        service = session.get(Service, page.service_id)
        return f"the on-call of {service.name}"
    from tocsin.catalogue.models import Service

    names = []
    for target in page.targets:
        model = {"user": User, "team": Team, "service": Service}.get(target["kind"])
        if model is None:
            names.append(f"the on-call of schedule {target['id']}")
            continue
        row = session.get(model, int(target["id"]))
        label = row.name if row else f"{target['kind']} {target['id']}"
        names.append(
            {"team": f"the {label} team", "service": f"the on-call of {label}"}.get(
                target["kind"], label
            )
        )
    return ", ".join(names)


def exists(session: Session, kind: str, target_id: int) -> bool:
    from tocsin.catalogue.models import Service

    if kind == "user":
        user = session.get(User, target_id)
        return user is not None and user.is_active
    if kind == "team":
        return session.get(Team, target_id) is not None
    if kind == "service":
        return session.get(Service, target_id) is not None
    if kind == "schedule":
        from tocsin.oncall import service as oncall

        return oncall.schedule_exists(session, target_id)
    return False
