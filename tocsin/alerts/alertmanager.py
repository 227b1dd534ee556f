"""Prometheus Alertmanager's webhook (version 4) turned into alert events.

Each entry of `alerts[]` is its own alert, deduplicated by its `fingerprint`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tocsin.alerts.events import (
    MAX_TITLE,
    Action,
    AlertEvent,
    InvalidEvent,
    clip,
    dedup_key_problem,
    severity_from,
)

ZERO_TIME_PREFIX = "0001-01-01"


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    # Alertmanager sends strings; anything else is shown as its JSON, never as Python's repr.
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith(ZERO_TIME_PREFIX):
        return None
    text = value.replace("Z", "+00:00")
    # Go prints nanoseconds; Python keeps microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        zone_at = next((i for i, c in enumerate(rest) if not c.isdigit()), len(rest))
        digits, zone = rest[:zone_at], rest[zone_at:]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def title_of(labels: dict[str, str], annotations: dict[str, str]) -> str:
    """`annotations.summary`, else the alert name with its other labels."""
    if annotations.get("summary"):
        return annotations["summary"]
    name = labels.get("alertname", "Alert")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    return f"{name} ({rest})" if rest else name


def parse_webhook(body: Any) -> list[AlertEvent]:
    if not isinstance(body, dict):
        raise InvalidEvent(["The body must be a JSON object (Alertmanager webhook version 4)."])
    version = body.get("version")
    if version is not None and str(version) != "4":
        raise InvalidEvent(
            [f"Unsupported webhook version {version!r}; Tocsin speaks version 4."], "version"
        )
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidEvent(["'alerts' must be a list."], "alerts")
    external_url = body.get("externalURL") if isinstance(body.get("externalURL"), str) else ""
    events: list[AlertEvent] = []
    errors: list[str] = []
    at_fault: list[str] = []

    def refuse(field: str, problem: str) -> None:
        at_fault.append(field)
        errors.append(problem)

    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            refuse(f"alerts[{index}]", f"alerts[{index}] must be an object.")
            continue
        fingerprint = alert.get("fingerprint")
        field = f"alerts[{index}].fingerprint"
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            refuse(field, f"{field} is missing.")
            continue
        if problem := dedup_key_problem(fingerprint, field):
            refuse(field, problem)
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            refuse(
                f"alerts[{index}].status", f"alerts[{index}].status must be 'firing' or 'resolved'."
            )
            continue
        labels = _strings(alert.get("labels"))
        annotations = _strings(alert.get("annotations"))
        links = []
        if isinstance(alert.get("generatorURL"), str) and alert["generatorURL"]:
            links.append({"href": alert["generatorURL"], "text": "Prometheus graph"})
        if external_url:
            links.append({"href": external_url, "text": "Alertmanager"})
        events.append(
            AlertEvent(
                action=Action.TRIGGER if status == "firing" else Action.RESOLVE,
                dedup_key=fingerprint.strip(),
                title=clip(title_of(labels, annotations), MAX_TITLE),
                severity=severity_from(labels.get("severity")),
                source=clip(labels.get("instance") or labels.get("job") or "Alertmanager", 255),
                component=clip(labels.get("job", ""), 255),
                group=clip(labels.get("service", ""), 255),
                event_class=clip(labels.get("alertname", ""), 255),
                occurred_at=_time(alert.get("startsAt")),
                details={
                    "annotations": annotations,
                    "startsAt": alert.get("startsAt"),
                    "endsAt": alert.get("endsAt"),
                },
                labels=labels,
                links=links,
            )
        )
    if errors:
        raise InvalidEvent(errors, at_fault[0])
    return events
