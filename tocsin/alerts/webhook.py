"""Generic JSON alerts: the smallest useful shape for scripts and tools without a native format.

{"title": "...", "dedup_key": "...", "status": "firing" | "resolved",
 "severity": "critical|error|warning|info", "details": {...}, "links": [{"href", "text"}]}
"""

from __future__ import annotations

from typing import Any

from tocsin.alerts.events import (
    MAX_TITLE,
    Action,
    AlertEvent,
    AlertSeverity,
    InvalidEvent,
    clip,
    dedup_key_problem,
)

FIELDS = {"title", "dedup_key", "status", "severity", "details", "links", "source"}


def parse_webhook(body: Any) -> AlertEvent:
    if not isinstance(body, dict):
        raise InvalidEvent(
            ["The body must be a JSON object with at least 'title' and 'dedup_key'."]
        )
    errors: list[str] = []
    at_fault: list[str] = []

    def refuse(field: str, problem: str) -> None:
        at_fault.append(field)
        errors.append(problem)

    unknown = sorted(set(body) - FIELDS)
    if unknown:
        refuse(
            unknown[0],
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}.",
        )
    dedup_key = body.get("dedup_key")
    if not isinstance(dedup_key, str) or not dedup_key.strip():
        refuse(
            "dedup_key",
            "'dedup_key' is missing: a stable id of the problem, e.g. 'disk-full:db-1'.",
        )
    elif problem := dedup_key_problem(dedup_key, "dedup_key"):
        refuse("dedup_key", problem)
    status = body.get("status", "firing")
    if status not in ("firing", "resolved"):
        refuse("status", "'status' must be 'firing' or 'resolved'.")
    title = body.get("title")
    if status == "firing" and (not isinstance(title, str) or not title.strip()):
        refuse("title", "'title' is missing: what is wrong, in a line.")
    elif isinstance(title, str) and len(title) > MAX_TITLE:
        refuse("title", f"'title' is longer than {MAX_TITLE} characters.")
    severity = body.get("severity", "error")
    if not isinstance(severity, str) or severity not in {s.value for s in AlertSeverity}:
        refuse("severity", "'severity' must be one of critical, error, warning, info.")
    details = body.get("details", {})
    if not isinstance(details, dict):
        refuse("details", "'details' must be an object.")
    links = body.get("links", [])
    if not isinstance(links, list) or not all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in links
    ):
        refuse("links", "'links' must be a list of objects with 'href'.")
    source = body.get("source", "")
    if not isinstance(source, str):
        refuse("source", "'source' must be a string.")
    if errors:
        raise InvalidEvent(errors, at_fault[0])
    return AlertEvent(
        action=Action.TRIGGER if status == "firing" else Action.RESOLVE,
        dedup_key=dedup_key.strip(),
        title=clip((title or "").strip(), MAX_TITLE),
        severity=AlertSeverity(severity),
        source=clip(source, 255),
        details=details,
        links=[
            {k: clip(v, 2048) for k, v in link.items() if isinstance(v, str)} for link in links[:50]
        ],
    )
