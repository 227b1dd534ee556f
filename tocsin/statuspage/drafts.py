"""Drafts of public updates, filled from a Tocsin incident: the author edits before posting.

Plain functions over plain values. The words say what customers notice (the affected
products, what is happening, when the next update comes) and carry the incident key
as a reference support can quote; the severity becomes the public impact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tocsin.statuspage.workflow import ComponentStatus, Impact, IncidentStatus

# The cadence a major incident keeps (the default); the comms work makes it per severity.
NEXT_UPDATE_AFTER = timedelta(minutes=30)

IMPACT_FOR_SEVERITY = {"SEV1": Impact.CRITICAL, "SEV2": Impact.MAJOR, "SEV3": Impact.MINOR}
COMPONENT_STATUS_FOR_SEVERITY = {
    "SEV1": ComponentStatus.MAJOR_OUTAGE,
    "SEV2": ComponentStatus.PARTIAL_OUTAGE,
    "SEV3": ComponentStatus.DEGRADED_PERFORMANCE,
}
PUBLIC_STATUS_FOR = {
    "open": IncidentStatus.INVESTIGATING,
    "fixing": IncidentStatus.IDENTIFIED,
    "resolved": IncidentStatus.RESOLVED,
    "closed": IncidentStatus.RESOLVED,
    "cancelled": IncidentStatus.RESOLVED,
}


@dataclass(frozen=True)
class IncidentFacts:
    """What a draft may say about a Tocsin incident."""

    key: str
    severity: str
    summary: str
    status: str
    products: tuple[str, ...] = ()
    service: str | None = None


@dataclass(frozen=True)
class Draft:
    name: str
    impact: Impact
    status: IncidentStatus
    component_status: ComponentStatus
    body: str


def readable_time(at: datetime) -> datetime:
    """A promise people can read: the next whole five minutes at or after `at`."""
    rounded = at.replace(second=0, microsecond=0)
    if rounded < at:
        rounded += timedelta(minutes=1)
    return rounded + timedelta(minutes=(-rounded.minute) % 5)


def next_update_time(at: datetime) -> datetime:
    """Thirty minutes on, at a time people can read."""
    return readable_time(at + NEXT_UPDATE_AFTER)


def affected_names(products: tuple[str, ...], service: str | None) -> list[str]:
    """What customers would call it: the products, else the faulty service."""
    return list(products) or ([service] if service else [])


def in_words(names: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _affected(facts: IncidentFacts) -> str:
    return in_words(affected_names(facts.products, facts.service)) or "some of our services"


def sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def public_text(
    facts: IncidentFacts,
    status: IncidentStatus,
    next_update_by: datetime | None,
    zone: ZoneInfo,
) -> str:
    """What customers read: what they notice, when they hear again, a key for support."""
    what = _affected(facts)
    summary = sentence(facts.summary)
    promise = []
    if next_update_by is not None:
        promise = [f"We will post another update by {next_update_by.astimezone(zone):%H:%M %Z}."]
    if status is IncidentStatus.INVESTIGATING:
        lines = [f"We are investigating a problem affecting {what}. {summary}", *promise]
    elif status is IncidentStatus.IDENTIFIED:
        lines = [
            f"We have identified the cause of the problem affecting {what} and are working on "
            f"a fix. {summary}",
            *promise,
        ]
    elif status is IncidentStatus.MONITORING:
        lines = [
            f"A fix is in place for {what} and we are monitoring the results. {summary}",
            *promise,
        ]
    elif status is IncidentStatus.RESOLVED:
        lines = [f"This incident has been resolved: {what} is working normally again."]
    else:
        lines = [f"We have published a postmortem of this incident affecting {what}."]
    return "\n\n".join([*lines, f"Reference for support: {facts.key}."])


def draft_body(facts: IncidentFacts, status: IncidentStatus, at: datetime, zone: ZoneInfo) -> str:
    return public_text(facts, status, next_update_time(at), zone)


def draft(facts: IncidentFacts, at: datetime, zone: ZoneInfo) -> Draft:
    """The first public update for an incident, from its current state."""
    status = PUBLIC_STATUS_FOR.get(facts.status, IncidentStatus.INVESTIGATING)
    return Draft(
        name=facts.summary.strip(),
        impact=IMPACT_FOR_SEVERITY.get(facts.severity, Impact.MINOR),
        status=status,
        component_status=COMPONENT_STATUS_FOR_SEVERITY.get(
            facts.severity, ComponentStatus.DEGRADED_PERFORMANCE
        ),
        body=draft_body(facts, status, at, zone),
    )
