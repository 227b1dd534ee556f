"""Stakeholder channels, the updates sent from incidents, and each incident's reminder state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.auth.models import User
from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now


class StakeholderChannel(Base):
    """Where internal updates go besides the private status page: "#incidents on Slack"."""

    __tablename__ = "stakeholder_channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # An Apprise URL (slack://..., msteams://..., json://...): it may hold a secret, so the
    # API and the pages never show it back in full.
    url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class StakeholderUpdate(Base):
    """One update as it was sent, to the audiences chosen then."""

    __tablename__ = "stakeholder_updates"
    __table_args__ = (
        Index("ix_stakeholder_updates_incident_id_sent_at", "incident_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # {"channels": [{"id", "name"}], "pages": [{"id", "name", "public"}]}: names as they were.
    audiences: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    body: Mapped[str] = mapped_column(Text, default="")  # internal stakeholders read this
    public_body: Mapped[str] = mapped_column(Text, default="")  # public pages show this
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    author: Mapped[User | None] = relationship(lazy="joined")


class UpdateReminder(Base):
    """How far the reminders for an incident's next due update went: exactly once per stage.

    `due_at` is the due time the stage refers to; a new update moves the due time, which
    starts the stages again.
    """

    __tablename__ = "stakeholder_update_reminders"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # 0: nobody reminded yet; 1: the communications manager; 2: the incident manager too.
    stage: Mapped[int] = mapped_column(Integer, default=0)


class RoomMessage(Base):
    """One line said in the incident room: immutable, shown to everyone who may see the incident."""

    __tablename__ = "room_messages"
    __table_args__ = (Index("ix_room_messages_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    author: Mapped[User | None] = relationship(lazy="joined")


class StateRevision(Base):
    """One saved version of an incident's state document; the newest is the document.

    (incident, version) is unique: of two people saving over the same version, one wins
    and the other is told, never silently overwritten.
    """

    __tablename__ = "state_revisions"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    saved_by: Mapped[User | None] = relationship(lazy="joined")
