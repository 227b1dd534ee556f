"""The incident workflow as plain functions over plain values: no I/O, no ORM.

    open -> fixing -> resolved -> closed
                      resolved -> fixing      (reopen)
    open | fixing -> cancelled                (false alarm, with a reason)

Timestamps follow the status and always stay ordered:
declared_at <= acknowledged_at <= resolved_at <= closed_at, and cancelled_at >= declared_at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    FIXING = "fixing"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"


# The handbook's words, shown wherever someone picks a severity.
SEVERITY_HELP: dict[Severity, tuple[str, str]] = {
    Severity.SEV1: (
        "Critical, very high impact",
        "A customer-facing service is down for all customers; a confidentiality or "
        "privacy breach; customer data loss.",
    ),
    Severity.SEV2: (
        "Major, significant impact",
        "A customer-facing service is down for a subset of customers; core "
        "functionality is significantly impacted.",
    ),
    Severity.SEV3: (
        "Minor, low impact",
        "An inconvenience to customers, with a workaround available.",
    ),
}

MAJOR_SEVERITIES = frozenset({Severity.SEV1, Severity.SEV2})

TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (Status.FIXING, Status.CANCELLED),
    Status.FIXING: (Status.RESOLVED, Status.CANCELLED),
    Status.RESOLVED: (Status.CLOSED, Status.FIXING),
    Status.CLOSED: (),
    Status.CANCELLED: (),
}

ACTIVE_STATUSES = frozenset({Status.OPEN, Status.FIXING})
# Over for good: nobody is paged, given a role or handed it, and nothing new is published.
ENDED_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})


def refused_when_ended(status: Status, key: str, doing: str) -> str | None:
    """Why an ended incident refuses `doing` ("page anyone"); None while it allows it."""
    if status is Status.CLOSED:
        return f"{key} is closed, and closing is final: nobody can {doing} any more."
    if status is Status.CANCELLED:
        return f"{key} was cancelled as a false alarm: nobody can {doing} any more."
    return None


def action_label(current: Status, target: Status) -> str:
    """The button text for moving from `current` to `target`."""
    if target is Status.FIXING:
        return "Reopen" if current is Status.RESOLVED else "Start fixing"
    return {
        Status.RESOLVED: "Resolve",
        Status.CLOSED: "Close",
        Status.CANCELLED: "Cancel (false alarm)",
    }.get(target, target.value)


@dataclass(frozen=True)
class IncidentClock:
    """The workflow timestamps of one incident."""

    declared_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None

    def latest(self) -> datetime:
        stamps = [self.declared_at, self.acknowledged_at, self.resolved_at, self.closed_at]
        stamps.append(self.cancelled_at)
        return max(s for s in stamps if s is not None)


class IllegalTransition(Exception):
    def __init__(self, current: Status, target: Status) -> None:
        allowed = TRANSITIONS[current]
        names = ", ".join(s.value for s in allowed) if allowed else "none (it is final)"
        super().__init__(
            f"An incident that is {current.value} cannot move to {target.value}; allowed: {names}."
        )
        self.current = current
        self.target = target
        self.allowed = allowed


class MissingExplanation(Exception):
    """Resolving needs a resolution summary; cancelling needs a reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def allowed_transitions(current: Status) -> tuple[Status, ...]:
    return TRANSITIONS[current]


def explanation_needed(target: Status) -> str | None:
    """The field a move to `target` must come with, if any."""
    return {Status.RESOLVED: "resolution_summary", Status.CANCELLED: "reason"}.get(target)


def transition(
    current: Status,
    clock: IncidentClock,
    target: Status,
    at: datetime,
    explanation: str = "",
) -> IncidentClock:
    """The timestamps after moving `current` to `target` at `at`, or an exception.

    A clock running behind the stored times never breaks their order: `at` is
    raised to the latest timestamp already set.
    """
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    needed = explanation_needed(target)
    if needed and not explanation.strip():
        what = "what resolved it" if target is Status.RESOLVED else "why it is a false alarm"
        raise MissingExplanation(needed, f"Moving to {target.value} needs {what}.")
    at = max(at, clock.latest())
    if target is Status.FIXING:
        # Reopening clears the resolution; the first move to fixing acknowledges.
        return replace(clock, acknowledged_at=clock.acknowledged_at or at, resolved_at=None)
    if target is Status.RESOLVED:
        return replace(clock, acknowledged_at=clock.acknowledged_at or at, resolved_at=at)
    if target is Status.CLOSED:
        return replace(clock, closed_at=at)
    return replace(clock, cancelled_at=at)


def impact_times_in_order(
    impact_started_at: datetime, detected_at: datetime, declared_at: datetime
) -> str | None:
    """None when impact <= detection <= declaration, else the field that breaks it."""
    if impact_started_at > detected_at:
        return "impact_started_at"
    if detected_at > declared_at:
        return "detected_at"
    return None
