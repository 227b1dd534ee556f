"""Uptime bars: each day's worst component status and the uptime percentage.

Plain functions over a component's status history (when each status began). Days
are calendar days in the status page's time zone. A major outage counts fully as
downtime and a partial outage at 30 % (Statuspage's rule); degraded performance and
maintenance are shown on the bar but are not downtime.

Like Statuspage, a component has a start date: days before it are "no data" (not
measured at all), and every day from it on is measured whole (today up to now), time
before the component's first recorded status counting as operational. So a component
added this morning with a one-minute outage reads 99.9 %, not 66 % of its first three
minutes. Days imported from another tool (downtime per past day) stand for what Tocsin
measured on them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tocsin.statuspage.workflow import (
    COMPONENT_LABEL,
    COMPONENT_RANK,
    DOWNTIME_WEIGHT,
    ComponentStatus,
)

WINDOW_DAYS = 90
# An imported day's downtime shows on its bar as a major outage (it counts fully).
OUTAGE = ComponentStatus.MAJOR_OUTAGE


@dataclass(frozen=True)
class Day:
    date: date
    # None: nothing measured that day (before the component existed).
    worst: ComponentStatus | None
    # Seconds spent in each status other than operational.
    seconds: dict[ComponentStatus, float] = field(default_factory=dict)
    downtime: float = 0.0


@dataclass(frozen=True)
class Uptime:
    days: list[Day]
    # None when nothing was measured in the window.
    percent: float | None
    measured_seconds: float = 0.0
    downtime_seconds: float = 0.0


def day_bounds(today: date, zone: ZoneInfo, days: int) -> list[tuple[date, datetime, datetime]]:
    """The last `days` calendar days up to `today`, each with its start and end as instants."""
    first = today - timedelta(days=days - 1)
    bounds = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        bounds.append((day, start, end))
    return bounds


def daily(
    changes: Sequence[tuple[datetime, ComponentStatus | str]],
    until: datetime,
    zone: ZoneInfo,
    days: int = WINDOW_DAYS,
    *,
    start: date | None = None,
    imported: Mapping[date, float] | None = None,
) -> Uptime:
    """Days and uptime for one component.

    `changes` is its status history, oldest first: (when the status began, status). The
    first entry is the component's creation; the last status lasts until `until`.
    `start` is its start date (None: measured from its first change); `imported` the
    downtime seconds of past days taken from elsewhere.
    """
    if start is not None:
        begins = datetime(start.year, start.month, start.day, tzinfo=zone)
        if not changes or changes[0][0] > begins:
            changes = [(begins, ComponentStatus.OPERATIONAL), *changes]
    imported = imported or {}
    bounds = day_bounds(until.astimezone(zone).date(), zone, days)
    today = bounds[-1][0]
    starts = [start for _day, start, _end in bounds]
    seconds: list[dict[ComponentStatus, float]] = [{} for _ in bounds]
    seen: list[set[ComponentStatus]] = [set() for _ in bounds]
    window_start = starts[0]
    for index, (began, raw_status) in enumerate(changes):
        status = ComponentStatus(raw_status)
        ended = changes[index + 1][0] if index + 1 < len(changes) else until
        begin, end = max(began, window_start), min(ended, until)
        if end <= begin:
            if index == len(changes) - 1 and window_start <= began <= until:
                # The current status, taken this very moment: today's bar shows it already.
                position = max(bisect.bisect_right(starts, began) - 1, 0)
                seen[position].add(status)
            continue
        position = max(bisect.bisect_right(starts, begin) - 1, 0)
        while position < len(bounds) and bounds[position][1] < end:
            _day, day_start, day_end = bounds[position]
            overlap = (min(end, day_end) - max(begin, day_start)).total_seconds()
            if overlap > 0:
                seen[position].add(status)
                seconds[position][status] = seconds[position].get(status, 0.0) + overlap
            position += 1
    result: list[Day] = []
    measured = downtime = 0.0
    for (day, day_start, day_end), spent, statuses in zip(bounds, seconds, seen, strict=True):
        if start is not None and day < start:
            result.append(Day(day, None))
            continue
        if day in imported and day < today:
            day_down = imported[day]
            measured += day_end.timestamp() - day_start.timestamp()
            downtime += day_down
            if day_down > 0:
                result.append(Day(day, OUTAGE, {OUTAGE: day_down}, day_down))
            else:
                result.append(Day(day, ComponentStatus.OPERATIONAL))
            continue
        day_down = sum(spent.get(s, 0.0) * weight for s, weight in DOWNTIME_WEIGHT.items())
        measured += sum(spent.values())
        downtime += day_down
        worst_status = max(statuses, key=COMPONENT_RANK.__getitem__) if statuses else None
        shown = {s: v for s, v in spent.items() if s is not ComponentStatus.OPERATIONAL}
        result.append(Day(day, worst_status, shown, day_down))
    percent = None if measured <= 0 else 100.0 * (1.0 - downtime / measured)
    return Uptime(result, percent, measured, downtime)


def combined(parts: Iterable[Uptime]) -> Uptime:
    """A group's bar: each day's worst over its components, uptime their average."""
    parts = list(parts)
    if not parts:
        return Uptime([], None)
    days: list[Day] = []
    for same_day in zip(*(p.days for p in parts), strict=True):
        statuses = [d.worst for d in same_day if d.worst is not None]
        spent: dict[ComponentStatus, float] = {}
        for d in same_day:
            for status, value in d.seconds.items():
                spent[status] = max(spent.get(status, 0.0), value)
        worst_status = max(statuses, key=COMPONENT_RANK.__getitem__) if statuses else None
        days.append(Day(same_day[0].date, worst_status, spent, max(d.downtime for d in same_day)))
    percents = [p.percent for p in parts if p.percent is not None]
    percent = sum(percents) / len(percents) if percents else None
    return Uptime(
        days,
        percent,
        sum(p.measured_seconds for p in parts),
        sum(p.downtime_seconds for p in parts),
    )


def shown_percent(percent: float | None) -> str:
    """'99.98' rounded down, so any downtime at all never shows as 100."""
    if percent is None:
        return "-"
    if percent >= 100.0:
        return "100.0"
    return f"{math.floor(percent * 100) / 100:.2f}"


def short_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under 1m"
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def describe_day(day: Day) -> str:
    """What a day's bar says in words: its tooltip and its text for screen readers."""
    label = f"{day.date:%b} {day.date.day}, {day.date:%Y}"
    if day.worst is None:
        return f"{label}: no data"
    parts = [
        f"{COMPONENT_LABEL[status].lower()} {short_duration(day.seconds[status])}"
        for status in sorted(day.seconds, key=COMPONENT_RANK.__getitem__, reverse=True)
        if day.seconds[status] >= 60
    ]
    if not parts:
        return f"{label}: no downtime"
    return f"{label}: " + ", ".join(parts)
