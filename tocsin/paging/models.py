"""Who is reached how (contact methods, notification rules), escalations in flight (pages),
and the outbox of notifications waiting to be delivered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.auth.models import User
from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now


class Channel(StrEnum):
    EMAIL = "email"  # through Tocsin's SMTP server
    WEBHOOK = "webhook"  # a JSON POST to a URL
    APPRISE = "apprise"  # any Apprise URL: slack://, ntfy://, msteams://, tgram://, matrix://, ...


class PageStatus(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    EXHAUSTED = "exhausted"  # every level and repeat fired; nobody acknowledged


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry
    CANCELLED = "cancelled"  # no longer needed: the page was acknowledged or resolved


class ContactMethod(Base):
    __tablename__ = "contact_methods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(2048))
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship(lazy="joined")


class NotificationRule(Base):
    """'Email at once, ntfy after 2 minutes': each rule fires once per page, until acknowledged."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="CASCADE")
    )
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)

    contact_method: Mapped[ContactMethod] = relationship(lazy="joined")


class Page(Base):
    """One escalation: what it is about, whom it targets, and when its next level is due."""

    __tablename__ = "pages"
    __table_args__ = (
        Index(
            "ix_pages_due",
            "next_step_at",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_pages_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigId)
    subject_key: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    # Who is paged: a service (through its escalation policy) or explicit targets.
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PageStatus.ACTIVE.value)
    level_index: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id], lazy="joined")


class PageRecipient(Base):
    """Each person a page reached, per level and round; any of them may acknowledge it."""

    __tablename__ = "page_recipients"

    page_id: Mapped[int] = mapped_column(
        ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    level_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    paged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Notification(Base):
    """The outbox: one message to one address, delivered later by the engine and retried."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_due",
            "due_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # The unsent few, counted for /metrics without reading every sent notification.
        Index(
            "ix_notifications_unsent",
            "status",
            sqlite_where=text("status IN ('pending', 'sending', 'failed')"),
            postgresql_where=text("status IN ('pending', 'sending', 'failed')"),
        ),
        Index("ix_notifications_page_id", "page_id"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The same decision never queues the same message twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject_type: Mapped[str | None] = mapped_column(String(16))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(2048))
    label: Mapped[str] = mapped_column(String(120), default="")
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User | None] = relationship(lazy="joined")


class ActionLink(Base):
    """A one-click acknowledge or resolve link in a page: random, single-use, expiring."""

    __tablename__ = "action_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    page: Mapped[Page] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
