"""How often stakeholders hear about an incident, and who is reminded when: pure rules.

The cadence is minutes per severity ("SEV1=30,SEV2=30"); a severity without one (SEV3 by
default) keeps no cadence. The next update is due one cadence after the last update
sent, or after the declaration while none was. When it is due the communications
manager is reminded; if still nothing is sent `INCIDENT_MANAGER_AFTER` later, the
incident manager is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIVE_STATUSES = ("open", "fixing")
INCIDENT_MANAGER_AFTER = timedelta(minutes=5)
SEVERITIES = ("SEV1", "SEV2", "SEV3")

# Reminder stages, stored as numbers.
NOBODY_REMINDED = 0
COMMUNICATIONS_MANAGER_REMINDED = 1
INCIDENT_MANAGER_REMINDED = 2


@dataclass(frozen=True)
class Cadence:
    minutes: dict[str, int]

    @classmethod
    def parse(cls, setting: str) -> Cadence:
        """ "SEV1=30,SEV2=30" (minutes); empty means no cadence at all."""
        minutes: dict[str, int] = {}
        for part in setting.replace(";", ",").split(","):
            if not part.strip():
                continue
            severity, _, value = part.partition("=")
            severity = severity.strip().upper()
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r} in the update cadence")
            try:
                number = int(value.strip())
            except ValueError:
                raise ValueError(f"{severity} needs whole minutes, e.g. {severity}=30") from None
            if not 1 <= number <= 24 * 60:
                raise ValueError(f"{severity}'s cadence must be 1 to 1440 minutes")
            minutes[severity] = number
        return cls(minutes)

    def every(self, severity: str) -> timedelta | None:
        value = self.minutes.get(severity)
        return timedelta(minutes=value) if value else None

    @property
    def severities(self) -> list[str]:
        return sorted(self.minutes)


def next_update_due(
    cadence: Cadence,
    severity: str,
    status: str,
    declared_at: datetime,
    last_update_at: datetime | None,
) -> datetime | None:
    """When stakeholders expect the next update; None when the incident keeps no cadence."""
    every = cadence.every(severity)
    if every is None or status not in ACTIVE_STATUSES:
        return None
    return (last_update_at or declared_at) + every


def stage_owed(due_at: datetime, at: datetime) -> int:
    """How far reminders for `due_at` should have gone by `at`."""
    if at >= due_at + INCIDENT_MANAGER_AFTER:
        return INCIDENT_MANAGER_REMINDED
    if at >= due_at:
        return COMMUNICATIONS_MANAGER_REMINDED
    return NOBODY_REMINDED
