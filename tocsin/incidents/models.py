"""The incident and its links to people and products."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.auth.models import User
from tocsin.catalogue.models import Product, Service
from tocsin.db import Base, BigId, UTCDateTime, now
from tocsin.incidents.workflow import MAJOR_SEVERITIES, Severity, Status, allowed_transitions


class Counter(Base):
    """Gap-free numbers (INC-1, INC-2, ...): the row lock serialises concurrent creators."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_number", "status", "number"),
        Index("ix_incidents_severity_number", "severity", "number"),
        # Filtered lists walk newest first: (filter column, number) serves both the
        # filter and the order, and still serves the foreign key alone.
        Index("ix_incidents_service_id_number", "service_id", "number"),
        Index("ix_incidents_incident_manager_id_number", "incident_manager_id", "number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    summary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)

    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    # Null only for an incident a rule declared from an alert, until a responder takes command.
    incident_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    communications_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Null when declared by a rule from an alert rather than by a person.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # A handover waits here until the new incident manager accepts it.
    handover_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handover_note: Mapped[str] = mapped_column(Text, default="")
    handover_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resolution_summary: Mapped[str] = mapped_column(Text, default="")
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # Where the incident room meets by voice and video (a Meet, Zoom or Jitsi link).
    video_url: Mapped[str] = mapped_column(String(500), default="", server_default="")

    impact_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    service: Mapped[Service | None] = relationship(lazy="joined")
    incident_manager: Mapped[User | None] = relationship(
        foreign_keys=[incident_manager_id], lazy="joined"
    )
    communications_manager: Mapped[User | None] = relationship(
        foreign_keys=[communications_manager_id], lazy="joined"
    )
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="joined")
    handover_to: Mapped[User | None] = relationship(foreign_keys=[handover_to_id], lazy="joined")
    products: Mapped[list[Product]] = relationship(
        secondary="incident_products", order_by="Product.name", lazy="selectin"
    )
    tech_leads: Mapped[list[User]] = relationship(
        secondary="incident_tech_leads", order_by="User.name", lazy="selectin"
    )

    @property
    def key(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_major(self) -> bool:
        return Severity(self.severity) in MAJOR_SEVERITIES

    @property
    def allowed_transitions(self) -> list[Status]:
        return list(allowed_transitions(Status(self.status)))


class IncidentProduct(Base):
    __tablename__ = "incident_products"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IncidentTechLead(Base):
    __tablename__ = "incident_tech_leads"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class IncidentParticipant(Base):
    """Everyone who took part: for a restricted incident, who (besides admins) may see it."""

    __tablename__ = "incident_participants"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
