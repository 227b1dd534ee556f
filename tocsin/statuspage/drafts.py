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


def next_update_time(at: datetime) -> datetime:
    """Thirty minutes on, rounded up to the next five minutes: a time people can read."""
    due = at + NEXT_UPDATE_AFTER
    rounded = due.replace(second=0, microsecond=0)
    if rounded < due:
        rounded += timedelta(minutes=1)
    return rounded + timedelta(minutes=(-rounded.minute) % 5)


def _affected(facts: IncidentFacts) -> str:
    names = list(facts.products) or ([facts.service] if facts.service else [])
    if not names:
        return "some of our services"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def draft_body(facts: IncidentFacts, status: IncidentStatus, at: datetime, zone: ZoneInfo) -> str:
    what = _affected(facts)
    summary = _sentence(facts.summary)
    when = next_update_time(at).astimezone(zone)
    next_update = f"We will post another update by {when:%H:%M %Z}."
    reference = f"Reference for support: {facts.key}."
    if status is IncidentStatus.INVESTIGATING:
        lines = [f"We are investigating a problem affecting {what}. {summary}", next_update]
    elif status is IncidentStatus.IDENTIFIED:
        lines = [
            f"We have identified the cause of the problem affecting {what} and are working on "
            f"a fix. {summary}",
            next_update,
        ]
    elif status is IncidentStatus.MONITORING:
        lines = [
            f"A fix is in place for {what} and we are monitoring the results. {summary}",
            next_update,
        ]
    elif status is IncidentStatus.RESOLVED:
        lines = [f"This incident has been resolved: {what} is working normally again."]
    else:
        lines = [f"We have published a postmortem of this incident affecting {what}."]
    return "\n\n".join([*lines, reference])


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
