"""What the operator's metrics read out of the database, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.paging.models import Notification
from tocsin.paging.service import OutboxCounts


@dataclass(frozen=True)
class EngineBacklog:
    """For each kind of engine work, how long its most overdue item has waited (seconds)."""

    alert_routing: float = 0.0
    escalation: float = 0.0
    delivery: float = 0.0
    heartbeats: float = 0.0
    subscriber_updates: float = 0.0

    def items(self) -> list[tuple[str, float]]:
        return [
            ("alert_routing", self.alert_routing),
            ("escalation", self.escalation),
            ("delivery", self.delivery),
            ("heartbeats", self.heartbeats),
            ("subscriber_updates", self.subscriber_updates),
        ]


@dataclass(frozen=True)
class OperationsSnapshot:
    """Everything /metrics shows, read in one transaction, so each figure agrees with the rest."""

    version: str
    database: str
    open_alerts: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, severity)
    active_incidents: dict[tuple[str, str], int] = field(default_factory=dict)  # (sev, status)
    active_pages: int = 0
    outbox: OutboxCounts = field(default_factory=OutboxCounts)
    backlog: EngineBacklog = field(default_factory=EngineBacklog)


@dataclass(frozen=True)
class HealthReport:
    """The admin's health page: the snapshot, and the deliveries that went wrong."""

    snapshot: OperationsSnapshot
    schema_revision: str | None
    schema_current: bool
    delivery_problems: list[Notification] = field(default_factory=list)
    behind_after_seconds: float = 60.0  # when a backlog counts as "behind"
