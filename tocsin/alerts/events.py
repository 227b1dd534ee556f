"""The one shape every sender's event is turned into before it touches the database."""

from __future__ import annotations

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
