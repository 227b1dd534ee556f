"""The postmortem of an incident and each saved version of its document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.auth.models import User
from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now
from tocsin.incidents.models import Incident


class Postmortem(Base):
    """One per incident. Its document lives in versions; `version` is the newest one's."""

    __tablename__ = "postmortems"
    __table_args__ = (
        Index("ix_postmortems_status_published_at", "status", "published_at"),
        Index("ix_postmortems_owner_id_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The blog shows the version that was approved and published, even while an amendment
    # is being written.
    published_version: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    review_requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    review_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    incident: Mapped[Incident] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    review_requested_by: Mapped[User | None] = relationship(
        foreign_keys=[review_requested_by_id], lazy="joined"
    )
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")


class PostmortemRevision(Base):
    """One saved version of the whole document, and which sections that save changed.

    (postmortem, version) is unique: of two people saving at once, one wins and the other is
    told. A save conflicts only when a newer version changed one of the sections it edits.
    """

    __tablename__ = "postmortem_revisions"
    __table_args__ = (UniqueConstraint("postmortem_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    changed: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    saved_by: Mapped[User | None] = relationship(lazy="joined")


class PostmortemDismissal(Base):
    """A blameless-check finding someone decided to keep, remembered by its words (edits move
    spans), so the reviewer sees who dismissed what."""

    __tablename__ = "postmortem_dismissals"
    __table_args__ = (UniqueConstraint("postmortem_id", "section", "phrase"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(48))
    phrase: Mapped[str] = mapped_column(String(200))
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    dismissed_by: Mapped[User | None] = relationship(lazy="joined")


class PostmortemFeed(Base):
    """The secret of a person's Atom feed of the blog (feed readers cannot log in). Like API
    tokens, only a lookup part and the secret's digest are kept; rotating ends the old URL."""

    __tablename__ = "postmortem_feeds"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
