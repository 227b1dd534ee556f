"""Generic JSON alerts: the smallest useful shape for scripts and tools without a native format.

{"title": "...", "dedup_key": "...", "status": "firing" | "resolved",
 "severity": "critical|error|warning|info", "details": {...}, "links": [{"href", "text"}]}
"""

from __future__ import annotations

from typing import Any

from tocsin.alerts.events import (
    MAX_DEDUP_KEY,
    MAX_TITLE,
    Action,
    AlertEvent,
    AlertSeverity,
    InvalidEvent,
    clip,
)

FIELDS = {"title", "dedup_key", "status", "severity", "details", "links", "source"}


def parse_webhook(body: Any) -> AlertEvent:
    if not isinstance(body, dict):
        raise InvalidEvent(
            ["The body must be a JSON object with at least 'title' and 'dedup_key'."]
        )
    errors: list[str] = []
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        errors.append(
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}."
        )
    dedup_key = body.get("dedup_key")
    if not isinstance(dedup_key, str) or not dedup_key.strip():
        errors.append("'dedup_key' is missing: a stable id of the problem, e.g. 'disk-full:db-1'.")
    elif len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters.")
    status = body.get("status", "firing")
    if status not in ("firing", "resolved"):
        errors.append("'status' must be 'firing' or 'resolved'.")
    title = body.get("title")
    if status == "firing" and (not isinstance(title, str) or not title.strip()):
        errors.append("'title' is missing: what is wrong, in a line.")
    elif isinstance(title, str) and len(title) > MAX_TITLE:
        errors.append(f"'title' is longer than {MAX_TITLE} characters.")
    severity = body.get("severity", "error")
    if not isinstance(severity, str) or severity not in {s.value for s in AlertSeverity}:
        errors.append("'severity' must be one of critical, error, warning, info.")
    details = body.get("details", {})
    if not isinstance(details, dict):
        errors.append("'details' must be an object.")
    links = body.get("links", [])
    if not isinstance(links, list) or not all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in links
    ):
        errors.append("'links' must be a list of objects with 'href'.")
    source = body.get("source", "")
    if not isinstance(source, str):
        errors.append("'source' must be a string.")
    if errors:
        raise InvalidEvent(errors)
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
