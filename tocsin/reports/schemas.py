"""What the operator's metrics read out of the database, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.paging.service import OutboxCounts


@dataclass(frozen=True)
class EngineBacklog:
    """For each kind of engine work, how long its most overdue item has waited (seconds)."""

    alert_routing: float = 0.0
    escalation: float = 0.0
    delivery: float = 0.0
    heartbeats: float = 0.0

    def items(self) -> list[tuple[str, float]]:
        return [
            ("alert_routing", self.alert_routing),
            ("escalation", self.escalation),
            ("delivery", self.delivery),
            ("heartbeats", self.heartbeats),
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
