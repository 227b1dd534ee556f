"""Integrations (how alerts arrive), alerts, routing rules and maintenance windows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.catalogue.models import Service
from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now


class IntegrationKind(StrEnum):
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    WEBHOOK = "webhook"
    HEARTBEAT = "heartbeat"


class RuleAction(StrEnum):
    """What a new alert does: page the on-call, declare an incident (and page), or only be kept."""

    PAGE = "page"
    INCIDENT = "incident"
    LOG = "log"


class Integration(Base):
    """A way in for alerts, owned by a service. The key is shown once; only its digest is kept."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=6000)
    heartbeat_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    heartbeat_grace_seconds: Mapped[int | None] = mapped_column(Integer)
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a silent heartbeat raises its alert; the engine claims rows whose time has come.
    heartbeat_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service: Mapped[Service] = relationship(lazy="joined")


class Alert(Base):
    """One problem reported by a sender; repeats of an open alert count up, never add rows."""

    __tablename__ = "alerts"
    __table_args__ = (
        # One open alert per (integration, dedup key). The predicate is literal SQL: as a bound
        # parameter PostgreSQL's generic plans stop matching it to ON CONFLICT.
        Index(
            "uq_alerts_open_dedup",
            "integration_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        # New alerts wait here until the router decides what they do.
        Index(
            "ix_alerts_unrouted",
            "id",
            sqlite_where=text("routed_at IS NULL"),
            postgresql_where=text("routed_at IS NULL"),
        ),
        Index("ix_alerts_service_id_id", "service_id", "id"),
        Index("ix_alerts_status_id", "status", "id"),
        # Alerts maintenance kept quiet that still fire: few, looked at on every engine pass.
        Index(
            "ix_alerts_suppressed_firing",
            "id",
            sqlite_where=text("suppressed AND status = 'triggered'"),
            postgresql_where=text("suppressed AND status = 'triggered'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    severity: Mapped[str] = mapped_column(String(16), default="error")
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")
    component: Mapped[str] = mapped_column(String(255), default="")
    group_name: Mapped[str] = mapped_column(String(255), default="")
    event_class: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    labels: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSONDoc, default=list)
    images: Mapped[list[dict[str, str]]] = mapped_column(JSONDoc, default=list)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Routing: what the service's rules decided, and when.
    action: Mapped[str | None] = mapped_column(String(16))
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )

    integration: Mapped[Integration] = relationship(lazy="joined")
    service: Mapped[Service] = relationship(lazy="joined")
    acknowledged_by = relationship("User", foreign_keys=[acknowledged_by_id], lazy="joined")
    resolved_by = relationship("User", foreign_keys=[resolved_by_id], lazy="joined")
    incident = relationship("Incident", lazy="joined")

    @property
    def key(self) -> str:
        return f"ALR-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


class AlertRule(Base):
    """Per service, in order: the first rule matching a new alert's severity decides its fate."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Null matches every severity.
    severity: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    incident_severity: Mapped[str | None] = mapped_column(String(8))


class MaintenanceWindow(Base):
    """While one is on, a service's alerts are kept and shown as suppressed, and nobody is paged."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    service: Mapped[Service] = relationship(lazy="joined")
