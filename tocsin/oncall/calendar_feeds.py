"""Secret iCalendar feed URLs for a schedule or a person, so calendar apps show on-call shifts."""

from __future__ import annotations

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
from tocsin.oncall.shifts import my_shifts, shifts_of

FEED_PREFIX = "ics"
# What a calendar feed holds, around the day it is fetched.
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)


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


def _feed_window(at: datetime) -> tuple[datetime, datetime]:
    """Whole days around `at`, so every fetch on one day gives the same events."""
    day = datetime.combine(at.date(), time(0), tzinfo=at.tzinfo)
    return day - FEED_PAST, day + FEED_FUTURE


def schedule_calendar(session: Session, schedule: Schedule, base_url: str) -> bytes:
    start, end = _feed_window(now())
    found = shifts_of(session, schedule, start, end)
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


def personal_calendar(session: Session, user: User, base_url: str) -> bytes:
    start, end = _feed_window(now())
    events = [
        calendar.Event(
            uid=calendar.uid(s.schedule.id, user.id, s.start),
            start=s.start,
            end=s.end,
            summary=f"On call: {s.schedule.name}",
            description=f"You are on call in {s.schedule.name} ({s.source_label}).",
            url=f"{base_url.rstrip('/')}/oncall/schedules/{s.schedule.id}",
        )
        for s in my_shifts(session, user, start, end)
    ]
    return calendar.render(f"My on-call shifts ({user.name})", events, now())
