"""Timeline events: who did what, when, to which subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now


class TimelineEvent(Base):
    """One immutable entry. Only `starred` may change after it is written."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text)
    # What changed, as {"field": [old, new]}, or any detail the kind needs.
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    starred: Mapped[bool] = mapped_column(Boolean, default=False)

    actor = relationship("User", lazy="joined")
