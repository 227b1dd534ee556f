"""The one shape every sender's event is turned into before it touches the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class AlertSeverity(StrEnum):
    """PagerDuty's four levels, which most monitoring tools map onto."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Alertmanager `severity` labels and other common spellings, mapped onto the four levels.
SEVERITY_ALIASES: dict[str, AlertSeverity] = {
    "critical": AlertSeverity.CRITICAL,
    "crit": AlertSeverity.CRITICAL,
    "fatal": AlertSeverity.CRITICAL,
    "emergency": AlertSeverity.CRITICAL,
    "page": AlertSeverity.CRITICAL,
    "p1": AlertSeverity.CRITICAL,
    "high": AlertSeverity.ERROR,
    "major": AlertSeverity.ERROR,
    "error": AlertSeverity.ERROR,
    "err": AlertSeverity.ERROR,
    "p2": AlertSeverity.ERROR,
    "warning": AlertSeverity.WARNING,
    "warn": AlertSeverity.WARNING,
    "medium": AlertSeverity.WARNING,
    "minor": AlertSeverity.WARNING,
    "p3": AlertSeverity.WARNING,
    "info": AlertSeverity.INFO,
    "informational": AlertSeverity.INFO,
    "low": AlertSeverity.INFO,
    "none": AlertSeverity.INFO,
    "p4": AlertSeverity.INFO,
}

MAX_DEDUP_KEY = 255
MAX_TITLE = 1024


def severity_from(text: str | None, default: AlertSeverity = AlertSeverity.ERROR) -> AlertSeverity:
    if not text:
        return default
    return SEVERITY_ALIASES.get(text.strip().lower(), default)


@dataclass(frozen=True)
class AlertEvent:
    """One trigger, acknowledge or resolve for one dedup key, from any sender."""

    action: Action
    dedup_key: str
    title: str = ""
    severity: AlertSeverity = AlertSeverity.ERROR
    source: str = ""
    component: str = ""
    group: str = ""
    event_class: str = ""
    occurred_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)


class InvalidEvent(Exception):
    """A body that cannot become events; `errors` lists each problem for the sender."""

    def __init__(self, errors: list[str], field: str | None = None) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.field = field  # the first field at fault, where one is


def dedup_key_problem(value: str, name: str) -> str | None:
    """Why a sender's dedup key cannot be kept as it is, if it cannot: clipped or cleaned,
    two different problems could fold into one alert."""
    if len(value) > MAX_DEDUP_KEY:
        return f"'{name}' is longer than {MAX_DEDUP_KEY} characters."
    if "\x00" in value:
        return f"'{name}' must not contain NUL characters."
    return None


def clip(text: Any, limit: int) -> str:
    return str(text)[:limit] if text is not None else ""


def without_nul(value: Any) -> Any:
    """The JSON value with NUL removed from every string (PostgreSQL refuses it in text, jsonb)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


# What an alert keeps of its sender's details, as compact UTF-8 JSON. Alertmanager's
# annotations and PagerDuty's custom_details are a few KiB; a log dump pasted into them
# is not, and every page and answer that carries it pays for it.
MAX_DETAILS_BYTES = 64 * 1024
# The key that says details were cut, and what was left out.
DETAILS_CUT = "tocsin_details_cut"
_MARKER_ROOM = 1024
_CUT_TEXT = " … (cut)"


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON, the measure of MAX_DETAILS_BYTES."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def bounded_details(details: dict[str, Any]) -> dict[str, Any]:
    """Details within MAX_DETAILS_BYTES: entries are kept in order while they fit, a long
    text is cut short, and what did not fit is named under DETAILS_CUT. Cut rather than
    refused: Alertmanager does not retry a refusal, so refusing would lose the page."""
    size = json_size(details)
    if size <= MAX_DETAILS_BYTES:
        return details
    budget = MAX_DETAILS_BYTES - _MARKER_ROOM
    kept: dict[str, Any] = {}
    left_out: list[str] = []
    shortened: list[str] = []
    for key, value in details.items():
        room = budget - json_size({key: ""}) - 1
        item = json_size({key: value}) - 1
        if item <= budget:
            kept[key] = value
            budget -= item
        elif isinstance(value, str) and room > 256:
            kept[key] = _text_within(value, room)
            budget -= json_size({key: kept[key]}) - 1
            shortened.append(key)
        else:
            left_out.append(key)
    marker: dict[str, Any] = {"bytes_sent": size, "bytes_kept": MAX_DETAILS_BYTES}
    if shortened:
        marker["shortened"] = _names(shortened)
    if left_out:
        marker["left_out"] = _names(left_out)
    kept[DETAILS_CUT] = marker
    return kept


def _names(keys: list[str]) -> str:
    """The keys concerned, themselves bounded so the marker fits its room."""
    listed = ", ".join(k[:60] for k in keys[:8])
    return listed + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")


def _text_within(text: str, room: int) -> str:
    """The start of `text` with a mark that it goes on, within `room` bytes of JSON."""
    keep = room - len(_CUT_TEXT.encode()) - 2
    while keep > 0:
        shortened = text.encode()[:keep].decode(errors="ignore") + _CUT_TEXT
        over = json_size(shortened) - room
        if over <= 0:
            return shortened
        keep -= over  # escapes (quotes, newlines) took more than one byte each
    return _CUT_TEXT.strip()
