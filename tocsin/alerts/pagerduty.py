"""The PagerDuty Events API v2 (`POST /v2/enqueue`): validation and conversion to an alert event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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

ACTIONS = {a.value for a in Action}
SEVERITIES = {s.value for s in AlertSeverity}
KNOWN_TOP = {
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _objects(value: Any, name: str, required: str, errors: list[str]) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{name}' must be a list of objects.")
        return []
    kept = []
    for index, item in enumerate(value[:50]):
        if not isinstance(item, dict) or not isinstance(item.get(required), str):
            errors.append(f"'{name}[{index}].{required}' is required.")
            continue
        kept.append({k: clip(v, 2048) for k, v in item.items() if isinstance(v, str)})
    return kept


def routing_key_of(body: Any) -> str | None:
    return _text(body.get("routing_key")) if isinstance(body, dict) else None


def parse_event(body: Any) -> AlertEvent:
    """An alert event from one Events API v2 body, or InvalidEvent listing every problem.

    A trigger without a dedup key gets a generated one, which the caller returns.
    """
    if not isinstance(body, dict):
        raise InvalidEvent(["Event object is invalid: the body must be a JSON object."])
    errors: list[str] = []
    routing_key = body.get("routing_key")
    if routing_key is not None and not isinstance(routing_key, str):
        errors.append("'routing_key' must be a string.")
    elif not (routing_key or "").strip():
        errors.append("'routing_key' is missing or blank.")
    action = body.get("event_action")
    if not isinstance(action, str) or action not in ACTIONS:  # a list is unhashable
        errors.append("'event_action' must be one of trigger, acknowledge, resolve.")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string.")
        dedup_key = None
    if isinstance(dedup_key, str) and (problem := dedup_key_problem(dedup_key, "dedup_key")):
        errors.append(problem)
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(f"'dedup_key' is required to {action}.")
    payload = body.get("payload")
    title = ""
    severity = AlertSeverity.ERROR
    source = ""
    details: dict[str, Any] = {}
    extra: dict[str, str] = {}
    occurred_at = None
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is required to trigger and must be an object.")
            payload = {}
        summary = _text(payload.get("summary"))
        if not summary or not summary.strip():
            errors.append("'payload.summary' is missing or blank.")
        elif len(summary) > MAX_TITLE:
            errors.append(f"'payload.summary' is longer than {MAX_TITLE} characters.")
        else:
            title = summary
        source = _text(payload.get("source")) or ""
        if not source.strip():
            errors.append("'payload.source' is missing or blank.")
        if not isinstance(payload.get("severity"), str) or payload["severity"] not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info.")
        else:
            severity = AlertSeverity(payload["severity"])
        custom = payload.get("custom_details")
        if custom is not None:
            details = custom if isinstance(custom, dict) else {"details": custom}
        for name in ("component", "group", "class"):
            value = payload.get(name)
            if value is not None and not isinstance(value, str):
                errors.append(f"'payload.{name}' must be a string.")
            elif value:
                extra[name] = clip(value, 255)
        if payload.get("timestamp") is not None:
            occurred_at = _timestamp(payload.get("timestamp"))
            if occurred_at is None:
                errors.append("'payload.timestamp' is not an ISO 8601 time.")
    links = _objects(body.get("links"), "links", "href", errors)
    images = _objects(body.get("images"), "images", "src", errors)
    if isinstance(body.get("client_url"), str) and body["client_url"]:
        sender = body.get("client") if isinstance(body.get("client"), str) else "Sender"
        links.append({"href": clip(body["client_url"], 2048), "text": clip(sender, 255)})
    if errors:
        raise InvalidEvent(errors)
    return AlertEvent(
        action=Action(action),
        dedup_key=dedup_key or uuid.uuid4().hex,
        title=title,
        severity=severity,
        source=clip(source, 255),
        component=extra.get("component", ""),
        group=extra.get("group", ""),
        event_class=extra.get("class", ""),
        occurred_at=occurred_at,
        details=details,
        links=links,
        images=images,
    )
