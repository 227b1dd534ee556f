"""The handbook's postmortem template, and its first version prefilled from the incident.

Plain values in, a plain document (a dict of sections) out: no I/O, so the prefill and
the Markdown export are tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Free-text sections, in the order the template shows them, with the handbook's questions.
TEXT_SECTIONS: dict[str, tuple[str, str]] = {
    "summary": ("Incident summary", "What happened, to whom, for how long, in a few sentences."),
    "leadup": ("Leadup", "The circumstances and changes that led to the incident."),
    "fault": ("Fault", "What failed, and how it failed."),
    "impact": ("Impact", "Who was affected, how, and for how long."),
    "detection": ("Detection", "How and when the team found out; how to find out sooner."),
    "response": ("Response", "Who responded, when and how; what slowed the response."),
    "recovery": ("Recovery", "How the service was restored, and how long each step took."),
    "root_cause": ("Root cause", "The final why: what, fixed, keeps this from happening again."),
    "backlog_check": (
        "Backlog check",
        "Was there work in the backlog that would have prevented this, or made it shorter?",
    ),
    "went_well": ("What went well", ""),
    "went_wrong": ("What could have gone better", ""),
    "got_lucky": ("Where we got lucky", ""),
}
# Where the structured sections sit among the text ones.
ORDER = (
    "summary",
    "leadup",
    "fault",
    "impact",
    "detection",
    "response",
    "recovery",
    "timeline",
    "five_whys",
    "root_cause",
    "root_cause_category",
    "backlog_check",
    "related_incidents",
    "went_well",
    "went_wrong",
    "got_lucky",
)
SECTIONS = (*ORDER, "timeline_time_zone")
LABELS = {name: label for name, (label, _) in TEXT_SECTIONS.items()} | {
    "timeline": "Timeline",
    "five_whys": "Five whys",
    "root_cause_category": "Root cause category",
    "related_incidents": "Related incidents",
    "timeline_time_zone": "Timeline time zone",
}


def empty_document() -> dict[str, Any]:
    document: dict[str, Any] = {name: "" for name in TEXT_SECTIONS}
    document |= {
        "timeline": [],
        "timeline_time_zone": "UTC",
        "five_whys": [],
        "root_cause_category": None,
        "related_incidents": [],
    }
    return document


@dataclass(frozen=True)
class Event:
    at: datetime
    text: str


@dataclass(frozen=True)
class IncidentFacts:
    """What the template prefills from, read off the incident by the service."""

    key: str
    summary: str
    severity: str
    description: str
    resolution_summary: str
    impact_started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    service: str | None
    products: list[str] = field(default_factory=list)
    incident_manager: str | None = None
    communications_manager: str | None = None
    tech_leads: list[str] = field(default_factory=list)
    reporter: str | None = None
    events: list[Event] = field(default_factory=list)


def span(delta: timedelta) -> str:
    """'1 h 05 min', '12 min', '2 d 3 h': how long, for a reader."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


def _at(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def timeline_rows(events: list[Event]) -> list[dict[str, str]]:
    """Oldest first: a timeline reads forwards."""
    ordered = sorted(events, key=lambda e: e.at)
    return [{"at": e.at.isoformat(), "text": e.text} for e in ordered]


def first_version(facts: IncidentFacts, time_zone: str = "UTC") -> dict[str, Any]:
    """The document as the owner first finds it: the facts Tocsin knows already written."""
    zone = ZoneInfo(time_zone)
    document = empty_document()
    end = facts.resolved_at
    lasted = f"{span(end - facts.impact_started_at)}" if end else "still going"
    products = ", ".join(facts.products) or "none named"
    document["summary"] = f"{facts.key} ({facts.severity}): {facts.summary}." + (
        f" Resolved by: {facts.resolution_summary}" if facts.resolution_summary else ""
    )
    document["impact"] = "\n".join(
        [
            f"Duration: {lasted}, from impact start {_at(facts.impact_started_at, zone)}"
            + (f" to resolution {_at(end, zone)}." if end else "."),
            f"Affected products: {products}.",
            f"Faulty service: {facts.service or 'unknown'}.",
            f"Severity: {facts.severity}.",
            "",
            facts.description,
        ]
    ).rstrip()
    document["detection"] = "\n".join(
        [
            f"Detected {_at(facts.detected_at, zone)}; declared {_at(facts.declared_at, zone)}.",
            f"Time to detect: {span(facts.detected_at - facts.impact_started_at)} "
            "(impact start to detection).",
            f"Reported by: {facts.reporter or 'an alert rule'}.",
        ]
    )
    acknowledged = (
        f"{span(facts.acknowledged_at - facts.declared_at)} (declared to fixing)"
        if facts.acknowledged_at
        else "never acknowledged"
    )
    document["response"] = "\n".join(
        [
            f"Time to acknowledge: {acknowledged}.",
            f"Incident manager: {facts.incident_manager or 'nobody'}.",
            f"Tech leads: {', '.join(facts.tech_leads) or 'nobody'}.",
            f"Communications manager: {facts.communications_manager or 'nobody'}.",
        ]
    )
    document["timeline"] = timeline_rows(facts.events)
    document["timeline_time_zone"] = time_zone
    return document


# ---------------------------------------------------------------- Markdown


def _quote(text: str) -> str:
    return text.strip() or "_Not written._"


def markdown(
    title: str, document: dict[str, Any], meta: list[tuple[str, str]], time_zone: str | None = None
) -> str:
    """The whole postmortem as Markdown, for a wiki, a mail or a pull request."""
    zone = ZoneInfo(time_zone or document.get("timeline_time_zone") or "UTC")
    lines = [f"# {title}", ""]
    lines += [f"- **{name}:** {value}" for name, value in meta]
    lines.append("")
    for name in ORDER:
        label = LABELS[name]
        if name == "timeline":
            lines += [f"## {label} ({zone.key})", ""]
            rows = document.get("timeline") or []
            if rows:
                lines += ["| Time | Event |", "|---|---|"]
                for row in rows:
                    when = datetime.fromisoformat(row["at"]).astimezone(zone)
                    text = row["text"].replace("|", "\\|").replace("\n", " ")
                    lines.append(f"| {when:%Y-%m-%d %H:%M} | {text} |")
            else:
                lines.append("_No events._")
        elif name == "five_whys":
            lines += [f"## {label}", ""]
            chain = document.get("five_whys") or []
            for n, step in enumerate(chain, 1):
                lines.append(f"{n}. **Why?** {step['why']}  \n   **Because** {step['answer']}")
            if not chain:
                lines.append("_Not written._")
        elif name == "root_cause_category":
            lines += [f"## {label}", "", document.get("root_cause_category") or "_Not chosen._"]
        elif name == "related_incidents":
            keys = document.get("related_incidents") or []
            lines += [f"## {label}", "", ", ".join(keys) if keys else "_None._"]
        else:
            lines += [f"## {label}", "", _quote(document.get(name, ""))]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def plain_text(document: dict[str, Any]) -> str:
    """Every word of the document, for full-text search."""
    parts = [document.get(name, "") for name in TEXT_SECTIONS]
    parts += [row.get("text", "") for row in document.get("timeline") or []]
    for step in document.get("five_whys") or []:
        parts += [step.get("why", ""), step.get("answer", "")]
    parts.append(document.get("root_cause_category") or "")
    return "\n".join(p for p in parts if p)
