"""Tells people when their on-call shift starts and ends.

Every minute it looks at each schedule's shifts and notifies those whose turn started
or ended in the last 15 minutes. A notice's idempotency key is the shift boundary
itself, so several workers, or one run right after another, never send it twice; a
worker down for longer than 15 minutes skips notices that would only be stale.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tocsin.auth.models import User
from tocsin.config import Settings
from tocsin.db import Database
from tocsin.oncall import service as oncall
from tocsin.paging import service as paging

LOOKBACK = timedelta(minutes=15)
# Shifts are read over a wide span so that real starts and ends are never confused with
# the span's clipped edges, and a new shift's real end is known.
SPAN_BEFORE = timedelta(days=8)
SPAN_AFTER = timedelta(days=35)


def _local(user: User, moment: datetime) -> str:
    try:
        zone = ZoneInfo(user.time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%a %b %d, %H:%M %Z")


class ShiftNotices:
    name = "shift_notices"
    woken_by_new_work = False  # time alone makes its work due
    every = timedelta(minutes=1)

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.last_run: datetime | None = None

    def run_due(self, db: Database, at: datetime) -> int:
        if self.last_run is not None and at - self.last_run < self.every:
            return 0
        self.last_run = at
        queued = 0
        with db.begin() as session:
            for schedule in oncall.list_schedules(session):
                begin, end = at - SPAN_BEFORE, at + SPAN_AFTER
                for shift in oncall.shifts_between(session, schedule.id, begin, end):
                    if at - LOOKBACK < shift.start <= at and shift.start != begin:
                        queued += paging.notify_user(
                            session,
                            shift.user,
                            key=f"shift-start:{schedule.id}:{int(shift.start.timestamp())}",
                            title=f"You are on call for {schedule.name}",
                            body=(
                                f"Your on-call shift for {schedule.name} started "
                                f"{_local(shift.user, shift.start)} and lasts until "
                                f"{_local(shift.user, shift.end)}.\n\n"
                                f"Your shifts: {self.base_url}/oncall/mine"
                            ),
                            purpose="shift",
                        )
                    if at - LOOKBACK < shift.end <= at and shift.end != end:
                        queued += paging.notify_user(
                            session,
                            shift.user,
                            key=f"shift-end:{schedule.id}:{int(shift.end.timestamp())}",
                            title=f"Your on-call shift for {schedule.name} has ended",
                            body=(
                                f"Your on-call shift for {schedule.name} ended "
                                f"{_local(shift.user, shift.end)}. Thank you.\n\n"
                                f"Your next shifts: {self.base_url}/oncall/mine"
                            ),
                            purpose="shift",
                        )
            session.commit()
        return queued
