"""On-call schedules (layers, participants, overrides), calendar feeds and escalation policies."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.auth.models import Team, User
from tocsin.db import Base, BigId, JSONDoc, UTCDateTime, now


class Schedule(Base):
    """Who is on call when, in one time zone: layers of rotations, and overrides on top."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Admins and members of the owning team change the schedule; everyone reads it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    team: Mapped[Team | None] = relationship(lazy="joined")
    layers: Mapped[list[ScheduleLayer]] = relationship(
        order_by="ScheduleLayer.position",
        cascade="all, delete-orphan",
        back_populates="schedule",
        lazy="selectin",
    )


class ScheduleLayer(Base):
    """One rotation of a schedule. A higher position wins where it has someone on call.

    The start and the handoff are local wall-clock values in the schedule's zone, not
    instants: a 09:00 handoff stays 09:00 when the clocks change.
    """

    __tablename__ = "schedule_layers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120), default="")
    shift_unit: Mapped[str] = mapped_column(String(8))
    shift_length: Mapped[int] = mapped_column(Integer)
    handoff_time: Mapped[time] = mapped_column(Time)
    start_date: Mapped[date] = mapped_column(Date)
    # None: the rotation starts on start_date at the handoff time.
    start_time: Mapped[time | None] = mapped_column(Time)
    # [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]; empty: always.
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    schedule: Mapped[Schedule] = relationship(back_populates="layers")
    participants: Mapped[list[LayerParticipant]] = relationship(
        order_by="LayerParticipant.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def start(self) -> date | datetime:
        """The local start: a day (at the handoff time), or a day and a time."""
        if self.start_time is None:
            return self.start_date
        return datetime.combine(self.start_date, self.start_time)

    @property
    def people(self) -> list[User]:
        return [p.user for p in self.participants]


class LayerParticipant(Base):
    """A person's place in a rotation; the same person may take several places."""

    __tablename__ = "layer_participants"

    layer_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_layers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(lazy="joined")


class ScheduleOverride(Base):
    """Someone on call for a window, over every layer (a swap, a sick day, holiday cover)."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (Index("ix_schedule_overrides_schedule_id_ends_at", "schedule_id", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")


class CalendarFeed(Base):
    """The secret of an iCalendar feed: a schedule's, or a person's own shifts.

    Like API tokens, only a public lookup part and the secret's digest are kept; the
    feed URL is shown once, and rotating it makes the old one stop working.
    """

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        CheckConstraint("(schedule_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class EscalationPolicy(Base):
    """Who is paged, in what order: levels one after another, the whole repeated N times."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # After the last level, start again from the first this many more times.
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    team: Mapped[Team | None] = relationship(lazy="joined")
    levels: Mapped[list[EscalationLevel]] = relationship(
        order_by="EscalationLevel.position",
        cascade="all, delete-orphan",
        back_populates="policy",
        lazy="selectin",
    )

    @property
    def repeat(self) -> int:
        """How many more times the levels run after the last one (the paging engine reads it)."""
        return self.repeat_count


class EscalationLevel(Base):
    """Everyone its targets name is paged; `delay_minutes` later, the next level is."""

    __tablename__ = "escalation_levels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    delay_minutes: Mapped[int] = mapped_column(Integer)

    policy: Mapped[EscalationPolicy] = relationship(back_populates="levels")
    targets: Mapped[list[EscalationTarget]] = relationship(
        order_by="EscalationTarget.position", cascade="all, delete-orphan", lazy="selectin"
    )


class EscalationTarget(Base):
    """One target of a level: a person, whoever a schedule has on call, or a team's members."""

    __tablename__ = "escalation_targets"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN schedule_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN team_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    level_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_levels.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User | None] = relationship(lazy="joined")
    schedule: Mapped[Schedule | None] = relationship(lazy="joined")
    team: Mapped[Team | None] = relationship(lazy="joined")

    @property
    def kind(self) -> str:
        if self.user_id is not None:
            return "user"
        return "schedule" if self.schedule_id is not None else "team"

    @property
    def target_id(self) -> int:
        return self.user_id or self.schedule_id or self.team_id or 0

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.name
        if self.schedule is not None:
            return f"On call in {self.schedule.name}"
        return f"Team {self.team.name}" if self.team is not None else "?"


class ServiceEscalationPolicy(Base):
    """The escalation policy of a service (at most one), kept beside the catalogue's table.

    A table of its own rather than a column on `services`: the catalogue stays free of
    paging, and SQLite needs no rebuild of `services`, whose rebuild would cascade.
    """

    __tablename__ = "service_escalation_policies"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True
    )
