"""Status pages: components in groups, public incidents with updates, scheduled maintenance.

Everything a page shows carries a `code`: a random public id (Statuspage's ids look
alike), so the public page and its JSON never reveal internal ids or how many rows
exist. Internal links (the Tocsin incident, the Tocsin service, who wrote an update)
stay in these tables and are never rendered publicly.

Subscribers hang off a page and, optionally, its components; they are told about each
update whose `notify` is set, about maintenance start and an hour before it
(subscribers.py).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now

CODE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CODE_LENGTH = 12


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class StatusPage(Base):
    __tablename__ = "status_pages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Private pages are for internal stakeholders: only logged-in users may read them.
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Where readers find the page (a custom domain in front of Tocsin); empty: Tocsin's own URL.
    url: Mapped[str] = mapped_column(String(500), default="")
    # Bumped in the same transaction as any change to what the page shows: the public cache's
    # cheap freshness check across processes.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ComponentGroup(Base):
    __tablename__ = "status_component_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(
        ForeignKey("status_pages.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Component(Base):
    __tablename__ = "status_components"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(
        ForeignKey("status_pages.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_component_groups.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default="operational")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Show the 90-day uptime bar (Statuspage's "showcase").
    showcase: Mapped[bool] = mapped_column(Boolean, default=True)
    # The Tocsin service behind it: a public incident from one of its incidents pre-selects it.
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Statuspage's start date: uptime is measured from this day (in the page's time zone);
    # earlier days are "no data". Null on components from before it was kept: the day
    # the component was added.
    start_date: Mapped[date | None] = mapped_column(Date)

    group: Mapped[ComponentGroup | None] = relationship(lazy="joined")


class ComponentDay(Base):
    """A past day's downtime imported from another tool; it stands for what Tocsin measured."""

    __tablename__ = "status_component_days"
    __table_args__ = (UniqueConstraint("component_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    downtime_seconds: Mapped[float] = mapped_column(Float)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ComponentChange(Base):
    """When a component took a status: the uptime bars are computed from these."""

    __tablename__ = "status_component_changes"
    __table_args__ = (Index("ix_status_component_changes_component_at", "component_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PublicIncident(Base):
    __tablename__ = "status_incidents"
    __table_args__ = (
        Index("ix_status_incidents_page_id_created_at", "page_id", "created_at"),
        Index("ix_status_incidents_page_id_status", "page_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("status_pages.id", ondelete="CASCADE"))
    # The public id, also the incident's shortlink on the page.
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    name: Mapped[str] = mapped_column(String(200))
    impact: Mapped[str] = mapped_column(String(16), default="none")
    status: Mapped[str] = mapped_column(String(16), default="investigating")
    # The Tocsin incident it tells the public about; each update lands on its timeline.
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        order_by="IncidentUpdate.id.desc()", lazy="selectin", cascade="all, delete-orphan"
    )
    components: Mapped[list[IncidentComponent]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class IncidentComponent(Base):
    """A component an incident affects, and the status the incident last gave it."""

    __tablename__ = "status_incident_components"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(24))


class IncidentUpdate(Base):
    __tablename__ = "status_incident_updates"
    __table_args__ = (
        # The engine's queue of updates whose subscribers are still to be told.
        Index(
            "ix_status_incident_updates_untold",
            "id",
            sqlite_where=text("subscribers_told_at IS NULL"),
            postgresql_where=text("subscribers_told_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incidents.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # Tell subscribers (Statuspage's deliver_notifications); read by the subscriber work.
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    display_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Null until the engine has queued the subscribers' notifications (or there were none
    # to queue): a big page's fan-out never holds up the person posting the update.
    subscribers_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What subscribers are told, as of this update (subscribers.plan_for_update).
    subscriber_plan: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)

    affected: Mapped[list[UpdateComponent]] = relationship(
        order_by="UpdateComponent.id", lazy="selectin", cascade="all, delete-orphan"
    )


class UpdateComponent(Base):
    """A component status an update changed (or confirmed), kept as it was then.

    Name and code are copied, so the history still reads right after a component is
    renamed or removed.
    """

    __tablename__ = "status_update_components"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    update_id: Mapped[int] = mapped_column(
        ForeignKey("status_incident_updates.id", ondelete="CASCADE"), index=True
    )
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_components.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    name: Mapped[str] = mapped_column(String(120))
    old_status: Mapped[str] = mapped_column(String(24))
    new_status: Mapped[str] = mapped_column(String(24))


class Maintenance(Base):
    __tablename__ = "status_maintenances"
    __table_args__ = (
        Index("ix_status_maintenances_status_scheduled_for", "status", "scheduled_for"),
        Index("ix_status_maintenances_status_scheduled_until", "status", "scheduled_until"),
        Index("ix_status_maintenances_page_id_scheduled_for", "page_id", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("status_pages.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime] = mapped_column(UTCDateTime)
    # The engine moves it to in progress at the start and to completed at the end.
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    # Remind subscribers an hour before (Statuspage's scheduled_remind_prior); the reminder
    # sets reminded_at when it has queued its notifications. Both are for the subscriber work.
    remind_subscribers: Mapped[bool] = mapped_column(Boolean, default=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    updates: Mapped[list[MaintenanceUpdate]] = relationship(
        order_by="MaintenanceUpdate.id.desc()", lazy="selectin", cascade="all, delete-orphan"
    )
    components: Mapped[list[MaintenanceComponent]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class MaintenanceComponent(Base):
    """A component under the maintenance; its status before the start is restored at the end."""

    __tablename__ = "status_maintenance_components"

    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("status_maintenances.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status_before: Mapped[str | None] = mapped_column(String(24))


class MaintenanceUpdate(Base):
    __tablename__ = "status_maintenance_updates"
    __table_args__ = (
        Index(
            "ix_status_maintenance_updates_untold",
            "id",
            sqlite_where=text("subscribers_told_at IS NULL"),
            postgresql_where=text("subscribers_told_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("status_maintenances.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, default=new_code)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    # Null when the engine wrote it (an automatic start or end).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    display_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Null while the engine still has to announce the start to subscribers; set at once
    # for updates that announce nothing.
    subscribers_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Subscriber(Base):
    """Someone told about a page's incidents and maintenance: by email or a webhook.

    Without chosen components they hear about the whole page. Email subscribers confirm
    first (double opt-in); only confirmed subscribers are notified.
    """

    __tablename__ = "status_subscribers"
    __table_args__ = (
        UniqueConstraint("page_id", "kind", "address", name="uq_status_subscribers_address"),
        # Housekeeping finds the never-confirmed quickly, however many confirmed there are.
        Index(
            "ix_status_subscribers_unconfirmed",
            "created_at",
            sqlite_where=text("confirmed_at IS NULL"),
            postgresql_where=text("confirmed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("status_pages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "email" or "webhook"
    address: Mapped[str] = mapped_column(String(2048))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest notification queued for them: its delivery state is shown to admins.
    last_notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    components: Mapped[list[SubscriberComponent]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class SubscriberComponent(Base):
    __tablename__ = "status_subscriber_components"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("status_subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SubscriberLink(Base):
    """The secret of one mailed confirm/unsubscribe link: a lookup part and a digest.

    Each mail carries its own link (only digests are kept, so an old secret cannot be
    sent again); every link of a subscriber works until they unsubscribe.
    """

    __tablename__ = "status_subscriber_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("status_subscribers.id", ondelete="CASCADE"), index=True
    )
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)


class FormSendCount(Base):
    """How often the public subscribe form was sent in one window, by one client or to one
    page (statuspage/form_guard.py); in the database, so every server process counts alike."""

    __tablename__ = "form_send_counts"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    sends: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
