"""Status page rules as plain functions over plain values: no I/O, no ORM.

The words are Atlassian Statuspage's, so that its widgets read Tocsin unchanged:

    component    operational < under_maintenance < degraded_performance
                 < partial_outage < major_outage                (worst wins)
    incident     investigating | identified | monitoring  ->  resolved -> postmortem
                 (any move between the first three; resolved reopens to any of them)
    maintenance  scheduled -> in_progress -> verifying -> completed
                 (in_progress <-> verifying; scheduled or started -> completed)

The page's overall status blends every component's status with the impact of every
unresolved incident, as Statuspage's `status.indicator` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


# How bad a component status is: a day's bar and a group take the worst.
COMPONENT_RANK: dict[ComponentStatus, int] = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}

COMPONENT_LABEL: dict[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
}

INCIDENT_LABEL: dict[IncidentStatus, str] = {
    IncidentStatus.INVESTIGATING: "Investigating",
    IncidentStatus.IDENTIFIED: "Identified",
    IncidentStatus.MONITORING: "Monitoring",
    IncidentStatus.RESOLVED: "Resolved",
    IncidentStatus.POSTMORTEM: "Postmortem",
}

MAINTENANCE_LABEL: dict[MaintenanceStatus, str] = {
    MaintenanceStatus.SCHEDULED: "Scheduled",
    MaintenanceStatus.IN_PROGRESS: "In progress",
    MaintenanceStatus.VERIFYING: "Verifying",
    MaintenanceStatus.COMPLETED: "Completed",
}

IMPACT_LABEL: dict[Impact, str] = {
    Impact.NONE: "No impact",
    Impact.MINOR: "Minor",
    Impact.MAJOR: "Major",
    Impact.CRITICAL: "Critical",
}

IMPACT_RANK: dict[Impact, int] = {
    Impact.NONE: 0,
    Impact.MINOR: 1,
    Impact.MAJOR: 2,
    Impact.CRITICAL: 3,
}

UNRESOLVED = frozenset(
    {IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING}
)
MAINTENANCE_ACTIVE = frozenset({MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING})

# Each outage status counts this much of its time as downtime (Statuspage's rule).
DOWNTIME_WEIGHT: dict[ComponentStatus, float] = {
    ComponentStatus.MAJOR_OUTAGE: 1.0,
    ComponentStatus.PARTIAL_OUTAGE: 0.3,
}

# The impact a component status implies, for the page indicator and a new incident's default.
_STATUS_IMPACT: dict[ComponentStatus, Impact] = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}

INDICATOR_DESCRIPTION: dict[Impact, str] = {
    Impact.NONE: "All Systems Operational",
    Impact.MINOR: "Minor Service Outage",
    Impact.MAJOR: "Partial System Outage",
    Impact.CRITICAL: "Major Service Outage",
}
UNDER_MAINTENANCE_DESCRIPTION = "Service Under Maintenance"


def worst(statuses: Iterable[ComponentStatus | str]) -> ComponentStatus:
    """The worst of the statuses; operational when there are none."""
    found = ComponentStatus.OPERATIONAL
    for value in statuses:
        status = ComponentStatus(value)
        if COMPONENT_RANK[status] > COMPONENT_RANK[found]:
            found = status
    return found


def impact_of(status: ComponentStatus | str) -> Impact:
    return _STATUS_IMPACT[ComponentStatus(status)]


def worst_impact(impacts: Iterable[Impact | str]) -> Impact:
    found = Impact.NONE
    for value in impacts:
        impact = Impact(value)
        if IMPACT_RANK[impact] > IMPACT_RANK[found]:
            found = impact
    return found


@dataclass(frozen=True)
class Indicator:
    """The page's overall status: Statuspage's `status` object, and the banner's colour."""

    indicator: Impact
    description: str
    under_maintenance: bool

    @property
    def tone(self) -> str:
        """The banner's colour name: ok, maintenance, minor, major, critical."""
        if self.indicator is Impact.NONE:
            return "maintenance" if self.under_maintenance else "ok"
        return self.indicator.value


def page_indicator(
    component_statuses: Iterable[ComponentStatus | str],
    unresolved_impacts: Iterable[Impact | str],
    maintenance_active: bool = False,
) -> Indicator:
    """Blends the components' statuses and the open incidents' impacts into one status.

    The indicator stays within none|minor|major|critical (the issue's contract): a page
    whose only trouble is maintenance says "none" with the description "Service Under
    Maintenance", where Atlassian's own pages may say "maintenance".
    """
    statuses = [ComponentStatus(s) for s in component_statuses]
    level = worst_impact([impact_of(s) for s in statuses] + list(unresolved_impacts))
    under_maintenance = maintenance_active or ComponentStatus.UNDER_MAINTENANCE in statuses
    if level is Impact.NONE and under_maintenance:
        return Indicator(level, UNDER_MAINTENANCE_DESCRIPTION, True)
    return Indicator(level, INDICATOR_DESCRIPTION[level], under_maintenance)


# ---------------------------------------------------------------- incidents


class RefusedMove(ValueError):
    """A status change the workflow does not allow; the message says why."""


def check_incident_move(current: IncidentStatus | None, target: IncidentStatus) -> None:
    """`current` is None for a new incident. A postmortem follows a resolution."""
    if target is IncidentStatus.POSTMORTEM and current not in (
        IncidentStatus.RESOLVED,
        IncidentStatus.POSTMORTEM,
    ):
        raise RefusedMove("A postmortem can only follow a resolved incident.")


def is_unresolved(status: IncidentStatus | str) -> bool:
    return IncidentStatus(status) in UNRESOLVED


# ---------------------------------------------------------------- maintenance

MAINTENANCE_MOVES: dict[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    MaintenanceStatus.SCHEDULED: frozenset(
        {MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.IN_PROGRESS: frozenset(
        {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.VERIFYING: frozenset(
        {MaintenanceStatus.VERIFYING, MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.COMPLETED: frozenset(),
}


def check_maintenance_move(current: MaintenanceStatus, target: MaintenanceStatus) -> None:
    """Staying put posts a message; completed is final."""
    if target not in MAINTENANCE_MOVES[current]:
        if current is MaintenanceStatus.COMPLETED:
            raise RefusedMove("This maintenance is completed; schedule a new one instead.")
        raise RefusedMove(
            f"A maintenance that is {MAINTENANCE_LABEL[current].lower()} cannot move to "
            f"{MAINTENANCE_LABEL[target].lower()}."
        )


def is_started(status: MaintenanceStatus | str) -> bool:
    return MaintenanceStatus(status) in MAINTENANCE_ACTIVE
