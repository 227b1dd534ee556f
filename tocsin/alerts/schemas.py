"""Bodies for integrations, alerts, routing rules and maintenance windows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from tocsin.alerts.events import AlertSeverity, AlertStatus
from tocsin.alerts.models import IntegrationKind, RuleAction
from tocsin.auth.schemas import UserRef
from tocsin.catalogue.schemas import ServiceRef
from tocsin.incidents.workflow import Severity
from tocsin.schemas import Id, Input, Integer, Moment, Name, Output, QueryId, SearchText, Text


class IntegrationCreate(Input):
    service_id: Id
    name: Name
    kind: IntegrationKind
    rate_limit_per_minute: Integer = Field(default=6000, ge=1, le=1_000_000)
    heartbeat_interval_seconds: Integer | None = Field(default=None, ge=10, le=7 * 86400)
    heartbeat_grace_seconds: Integer | None = Field(default=None, ge=0, le=86400)

    @model_validator(mode="after")
    def _heartbeat_needs_an_interval(self) -> IntegrationCreate:
        if self.kind is IntegrationKind.HEARTBEAT and self.heartbeat_interval_seconds is None:
            raise ValueError("a heartbeat needs heartbeat_interval_seconds")
        return self


class IntegrationUpdate(Input):
    name: Name | None = None
    rate_limit_per_minute: Integer | None = Field(default=None, ge=1, le=1_000_000)
    heartbeat_interval_seconds: Integer | None = Field(default=None, ge=10, le=7 * 86400)
    heartbeat_grace_seconds: Integer | None = Field(default=None, ge=0, le=86400)


class IntegrationOut(Output):
    id: int
    name: str
    kind: IntegrationKind
    service: ServiceRef
    rate_limit_per_minute: int
    heartbeat_interval_seconds: int | None
    heartbeat_grace_seconds: int | None
    last_ping_at: datetime | None
    created_at: datetime
    rotated_at: datetime | None


class IntegrationCreated(IntegrationOut):
    key: str = Field(
        description="The secret integration key. Shown this once; rotate to get a new one."
    )
    url: str = Field(description="Where the sender posts (for PagerDuty senders: the routing_key).")


class TestAlertIn(Input):
    severity: AlertSeverity = Field(
        default=AlertSeverity.WARNING,
        description="Routed by the service's rules like a real alert of this severity.",
    )


class AlertFilters(Input):
    status: list[AlertStatus] = Field(default_factory=list, max_length=3)
    severity: list[AlertSeverity] = Field(default_factory=list, max_length=4)
    service_id: QueryId | None = None
    q: SearchText = ""
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=32)] | None = None


class IncidentLink(Output):
    """The linked incident; to someone who may not see it (restricted), only that it exists."""

    id: int | None
    key: str | None
    summary: str
    status: str


class AlertSummaryOut(Output):
    """An alert in a list: everything but its details, which only the alert itself carries."""

    id: int
    key: str
    dedup_key: str
    status: AlertStatus
    severity: AlertSeverity
    title: str
    source: str
    component: str
    group_name: str
    event_class: str
    service: ServiceRef
    integration_id: int
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    acknowledged_by: UserRef | None
    resolved_by: UserRef | None
    action: RuleAction | None
    suppressed: bool
    incident: IncidentLink | None
    labels: dict[str, str]
    links: list[dict[str, str]]
    images: list[dict[str, str]]


class AlertOut(AlertSummaryOut):
    details: dict[str, Any]


class DeclareFromAlert(Input):
    severity: Severity | None = Field(
        default=None, description="Defaults from the alert's severity."
    )
    summary: Annotated[str, Field(max_length=200)] | None = None


class AttachToIncident(Input):
    incident_key: Annotated[str, Field(min_length=1, max_length=20)]


class RuleIn(Input):
    severity: AlertSeverity | None = Field(default=None, description="null matches every severity")
    action: RuleAction
    incident_severity: Severity | None = None


class RulesReplace(Input):
    rules: list[RuleIn] = Field(max_length=20)


class RuleOut(Output):
    severity: AlertSeverity | None
    action: RuleAction
    incident_severity: Severity | None


class MaintenanceCreate(Input):
    service_id: Id
    starts_at: Moment
    ends_at: Moment
    reason: Text = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("the end must be after the start")
        return self


class MaintenanceOut(Output):
    id: int
    service: ServiceRef
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime
