"""Secret iCalendar feed URLs for a schedule or a person, so calendar apps show on-call shifts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.db import now
from tocsin.errors import NotFound
from tocsin.oncall import calendar
from tocsin.oncall.models import CalendarFeed, Schedule
from tocsin.oncall.ownership import require_editor
from tocsin.oncall.schedules import get_schedule
from tocsin.oncall.shifts import ScheduledShift, schedules_of, shifts_of

FEED_PREFIX = "ics"
# How far beyond a feed's window a shift's true start or end is looked for; a shift
# longer than that (one person alone in a rotation, for ever) ends there in the feed.
SHIFT_REACH = timedelta(days=366)
FIRST_REACH = timedelta(days=7)


@dataclass(frozen=True)
class FeedWindow:
    """What a calendar feed holds around the day it is fetched (TOCSIN_CALENDAR_FEED_DAYS_*)."""

    days_back: int = 30
    days_ahead: int = 365

    def around(self, at: datetime) -> tuple[datetime, datetime]:
        """Whole days around `at`, so every fetch on one day gives the same events."""
        day = datetime.combine(at.date(), time(0), tzinfo=at.tzinfo)
        return day - timedelta(days=self.days_back), day + timedelta(days=self.days_ahead)


def feed_of(
    session: Session, *, schedule_id: int | None = None, user_id: int | None = None
) -> CalendarFeed | None:
    if schedule_id is not None:
        return session.scalar(select(CalendarFeed).where(CalendarFeed.schedule_id == schedule_id))
    return session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user_id))


def _rotate(session: Session, feed: CalendarFeed | None, **owner: int) -> tuple[CalendarFeed, str]:
    token, lookup, digest = secrets.new_keyed_secret(FEED_PREFIX)
    if feed is None:
        feed = CalendarFeed(**owner)
        session.add(feed)
    feed.lookup, feed.secret_hash, feed.created_at = lookup, digest, now()
    return feed, token


def rotate_schedule_feed(session: Session, actor: User, schedule_id: int) -> str:
    """A new secret feed URL for the schedule; the old one stops working. Returns the token."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"rotate the calendar feed of {schedule.name}")
    _feed, token = _rotate(
        session, feed_of(session, schedule_id=schedule.id), schedule_id=schedule.id
    )
    audit.record(
        session,
        actor.id,
        "schedule.feed_rotated",
        "schedule",
        schedule.id,
        f"Calendar feed of {schedule.name} rotated",
    )
    session.commit()
    return token


def rotate_personal_feed(session: Session, actor: User) -> str:
    """A new secret URL for the person's own shifts; the old one stops working.

    Viewers are never on call, so they have no shifts to subscribe to."""
    require_responder(actor, "have on-call shifts in a calendar")
    _feed, token = _rotate(session, feed_of(session, user_id=actor.id), user_id=actor.id)
    audit.record(
        session, actor.id, "user.feed_rotated", "user", actor.id, "Personal calendar feed rotated"
    )
    session.commit()
    return token


def _feed_for(session: Session, token: str) -> CalendarFeed | None:
    parts = secrets.split_keyed_secret(token, FEED_PREFIX) if isinstance(token, str) else None
    if parts is None:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.lookup == parts[0]))
    if feed is None or not secrets.same_secret(parts[1], feed.secret_hash):
        return None
    return feed


def schedule_by_feed(session: Session, schedule_id: int, token: str) -> Schedule:
    """The schedule this secret opens; any mismatch is a plain 404, saying nothing more."""
    feed = _feed_for(session, token)
    if feed is None or feed.schedule_id != schedule_id:
        raise NotFound("No such calendar feed; it may have been rotated.")
    return get_schedule(session, schedule_id)


def user_by_feed(session: Session, user_id: int, token: str) -> User:
    feed = _feed_for(session, token)
    user = session.get(User, user_id) if feed is not None and feed.user_id == user_id else None
    if user is None or not user.is_active:
        raise NotFound("No such calendar feed; it may have been rotated.")
    return user


def schedule_feed_path(schedule_id: int, token: str) -> str:
    return f"/oncall/schedules/{schedule_id}/calendar.ics?token={token}"


def personal_feed_path(user_id: int, token: str) -> str:
    return f"/oncall/users/{user_id}/calendar.ics?token={token}"


def whole_shifts(
    session: Session, schedule: Schedule, start: datetime, end: datetime
) -> list[ScheduledShift]:
    """The shifts overlapping [start, end), each whole (its true start and end, never cut at
    the window's edges), so a calendar shows when a shift really begins and ends."""
    reach = FIRST_REACH
    while True:
        begin, finish = start - reach, end + reach
        found = shifts_of(session, schedule, begin, finish)
        cut = bool(found) and (
            (found[0].start <= begin and found[0].end > start)
            or (found[-1].end >= finish and found[-1].start < end)
        )
        if not cut or reach >= SHIFT_REACH:
            return [s for s in found if s.end > start and s.start < end]
        reach = min(reach * 4, SHIFT_REACH)


def schedule_calendar(
    session: Session, schedule: Schedule, base_url: str, window: FeedWindow = FeedWindow()
) -> bytes:
    start, end = window.around(now())
    found = whole_shifts(session, schedule, start, end)
    events = [
        calendar.Event(
            uid=calendar.uid(schedule.id, s.user.id, s.start),
            start=s.start,
            end=s.end,
            summary=f"On call: {s.user.name}",
            description=f"{s.user.name} is on call in {schedule.name} ({s.source_label}).",
            url=f"{base_url.rstrip('/')}/oncall/schedules/{schedule.id}",
        )
        for s in found
    ]
    return calendar.render(f"On call: {schedule.name}", events, now())


def personal_calendar(
    session: Session, user: User, base_url: str, window: FeedWindow = FeedWindow()
) -> bytes:
    start, end = window.around(now())
    mine = sorted(
        (
            shift
            for schedule in schedules_of(session, user)
            for shift in whole_shifts(session, schedule, start, end)
            if shift.user.id == user.id
        ),
        key=lambda s: (s.start, s.schedule.name),
    )
    events = [
        calendar.Event(
            uid=calendar.uid(s.schedule.id, user.id, s.start),
            start=s.start,
            end=s.end,
            summary=f"On call: {s.schedule.name}",
            description=f"You are on call in {s.schedule.name} ({s.source_label}).",
            url=f"{base_url.rstrip('/')}/oncall/schedules/{s.schedule.id}",
        )
        for s in mine
    ]
    return calendar.render(f"My on-call shifts ({user.name})", events, now())
