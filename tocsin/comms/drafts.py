"""The first stakeholder update and each follow-up, filled from an incident: pure templates.

The author edits before sending. The internal text carries what stakeholders ask
first (what is hit, how badly, where we are, what comes next, when they hear again);
the public text says only what customers notice, with the key for support to quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tocsin.statuspage.drafts import (
    PUBLIC_STATUS_FOR,
    IncidentFacts,
    affected_names,
    in_words,
    public_text,
    sentence,
)
from tocsin.statuspage.workflow import IncidentStatus

SEVERITY_WORDS = {
    "SEV1": "critical: customers cannot use a core product",
    "SEV2": "major: a product is impaired for many customers",
    "SEV3": "minor: limited impact",
}
STATUS_WORDS = {
    "open": "Investigating: we are looking for the cause",
    "fixing": "Fixing: the cause is known and a fix is under way",
    "resolved": "Resolved",
    "closed": "Resolved and closed",
    "cancelled": "Cancelled: a false alarm",
}
NEXT_STEPS = {
    "open": "Find the cause and limit the impact.",
    "fixing": "Apply the fix and check that customers recover.",
    "resolved": "Watch for recurrence; a postmortem follows.",
    "closed": "None: the incident is closed.",
    "cancelled": "None.",
}


@dataclass(frozen=True)
class UpdateFacts:
    """What an update may say about an incident, as plain values."""

    key: str
    severity: str
    summary: str
    status: str
    products: tuple[str, ...] = ()
    service: str | None = None
    # What customers call the faulty service: the public pages' components it backs.
    public_components: tuple[str, ...] = ()
    impact_started_at: datetime | None = None
    incident_manager: str | None = None
    communications_manager: str | None = None
    resolution_summary: str = ""
    link: str = ""
    updates_sent: int = 0  # before this one
    next_update_by: datetime | None = None  # None: no cadence, or nothing more to come


def affected(facts: UpdateFacts) -> str:
    return in_words(affected_names(facts.products, facts.service)) or "not known yet"


def _clock(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M %Z")


def title(facts: UpdateFacts) -> str:
    """The subject line: chat and mail show it first."""
    kind = "Incident" if facts.updates_sent == 0 else f"Update {facts.updates_sent + 1}"
    if facts.status in ("resolved", "closed"):
        kind = "Resolved"
    return f"[{facts.key}] {kind}: {facts.summary.strip()} ({facts.severity})"


def internal_body(facts: UpdateFacts, zone: ZoneInfo) -> str:
    """For internal stakeholders: Apprise channels and private status pages."""
    lines = [title(facts), ""]
    if facts.updates_sent == 0:
        lines.append(f"We have declared incident {facts.key}. {sentence(facts.summary)}")
    else:
        lines.append(f"What changed: [since the last update]. {sentence(facts.summary)}")
    lines += [
        "",
        f"Severity: {facts.severity} ({SEVERITY_WORDS.get(facts.severity, facts.severity)})",
        f"Affected: {affected(facts)}",
        f"Status: {STATUS_WORDS.get(facts.status, facts.status)}",
    ]
    if facts.impact_started_at is not None:
        lines.append(f"Impact since: {_clock(facts.impact_started_at, zone)}")
    if facts.resolution_summary and facts.status in ("resolved", "closed"):
        lines.append(f"Resolved by: {sentence(facts.resolution_summary)}")
    lines.append(f"Next steps: {NEXT_STEPS.get(facts.status, '')}")
    if facts.next_update_by is not None:
        lines.append(f"Next update: by {_clock(facts.next_update_by, zone)}")
    elif facts.status in ("open", "fixing"):
        lines.append("Next update: when there is news")
    people = []
    if facts.incident_manager:
        people.append(f"Incident manager: {facts.incident_manager}")
    if facts.communications_manager:
        people.append(f"Communications: {facts.communications_manager}")
    if people:
        lines += ["", " · ".join(people)]
    if facts.link:
        lines.append(facts.link)
    return "\n".join(lines)


def public_body(facts: UpdateFacts, zone: ZoneInfo) -> str:
    """For the public status page: what customers notice, without internal names."""
    status = PUBLIC_STATUS_FOR.get(facts.status, IncidentStatus.INVESTIGATING)
    page_facts = IncidentFacts(
        key=facts.key,
        severity=facts.severity,
        summary=facts.summary,
        status=facts.status,
        products=facts.products or facts.public_components,
        service=None,  # the faulty service is an internal name customers do not know
    )
    return public_text(page_facts, status, facts.next_update_by, zone)
