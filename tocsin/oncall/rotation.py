"""Who is on call when: rotations, restrictions, layers and overrides as plain values.

No I/O and no ORM, so hypothesis can check the rules exhaustively.

- A schedule has a time zone, layers (bottom first) and overrides.
- A layer rotates through its participants. Day and week shifts are calendar days and
  weeks in the schedule's zone, handing off at a local wall-clock time, so a 09:00
  handoff stays 09:00 across daylight-saving changes (that shift lasts 23 or 25 hours).
  Hour shifts are real elapsed hours.
- Restrictions (windows on some days of the week, e.g. weekdays 09:00-17:00, possibly
  past midnight) limit when a layer has anyone; outside them the layer has nobody.
- A higher layer wins wherever it has someone; an override (a person for a window)
  wins over every layer, and a later override over an earlier one.

A local time that does not exist on a day (02:30 when clocks spring forward) happens
as if the clocks had not moved yet (03:30 new time); a local time that happens twice
(when clocks fall back) happens the first time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

ALL_DAYS: frozenset[int] = frozenset(range(7))
WEEKDAYS: frozenset[int] = frozenset(range(5))
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ShiftUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"


@dataclass(frozen=True)
class Window:
    """On each of `days` (Monday is 0), from `start` to `end` local time.

    An `end` at or before `start` ends on the next day (22:00-06:00); `end == start`
    is the whole day (00:00-00:00 on Saturday and Sunday: weekends).
    """

    start: time
    end: time
    days: frozenset[int] = ALL_DAYS

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Layer:
    """A rotation: participants take turns, one shift each, in order.

    `start` is local wall-clock time in the schedule's zone: a date means that day at
    the handoff time; a datetime is the moment the first shift begins. For day and
    week shifts the first shift ends at the handoff `shift_length` days (weeks) after
    the start's date; every later shift runs from handoff to handoff.
    """

    participants: tuple[int, ...]
    shift_length: int
    shift_unit: ShiftUnit
    handoff: time
    start: date | datetime
    windows: tuple[Window, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if self.shift_length < 1:
            raise ValueError("shift_length must be at least 1")
        if isinstance(self.start, datetime) and self.start.tzinfo is not None:
            raise ValueError("a layer starts at a local (naive) date or datetime")


@dataclass(frozen=True)
class Override:
    """`user_id` is on call from `start` to `end` (aware datetimes), over every layer."""

    user_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    layers: tuple[Layer, ...] = ()  # bottom first: a later layer wins where it has someone
    overrides: tuple[Override, ...] = ()  # a later override wins over an earlier one
    # People who cannot be on call (deactivated): their turns are gaps, so the layer
    # beneath shows through; everyone else's turns stay where they were.
    absent: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Source:
    """Where a turn on call comes from: a layer or an override, by its index in the schedule."""

    kind: Literal["layer", "override"]
    index: int


@dataclass(frozen=True)
class OnCall:
    user_id: int
    source: Source


@dataclass(frozen=True)
class Shift:
    """`user_id` on call from `start` to `end` (UTC); `source` is that of its first part."""

    user_id: int
    start: datetime
    end: datetime
    source: Source = field(compare=False)


# ---------------------------------------------------------------- local time


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone` (see the module's rule for gaps)."""
    if at.tzinfo is not None:
        at = at.replace(tzinfo=None)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give an aware datetime (with a time zone)")
    return value.astimezone(UTC)


# ---------------------------------------------------------------- one layer


def _start_date(layer: Layer) -> date:
    return layer.start.date() if isinstance(layer.start, datetime) else layer.start


def layer_start(layer: Layer, zone: ZoneInfo) -> datetime:
    """The moment the layer's first shift begins (UTC)."""
    if isinstance(layer.start, datetime):
        return layer.start.replace(tzinfo=zone).astimezone(UTC)
    return local_instant(layer.start, layer.handoff, zone)


def _step_days(layer: Layer) -> int:
    return layer.shift_length * (7 if layer.shift_unit is ShiftUnit.WEEKS else 1)


def handoff_at(layer: Layer, zone: ZoneInfo, k: int, first: datetime | None = None) -> datetime:
    """When shift `k` begins (k >= 0); shift 0 begins at the layer's start (`first`, when the
    caller has it already)."""
    if k <= 0 or layer.shift_unit is ShiftUnit.HOURS:
        begins = first if first is not None else layer_start(layer, zone)
        return begins + timedelta(hours=layer.shift_length * max(k, 0))
    return local_instant(
        _start_date(layer) + timedelta(days=k * _step_days(layer)), layer.handoff, zone
    )


def shift_index(layer: Layer, zone: ZoneInfo, when: datetime) -> int | None:
    """The number of the shift running at `when`, or None before the layer starts."""
    first = layer_start(layer, zone)
    if when < first:
        return None
    if layer.shift_unit is ShiftUnit.HOURS:
        return int((when - first) // timedelta(hours=layer.shift_length))
    days = (when.astimezone(zone).date() - _start_date(layer)).days
    k = max(days // _step_days(layer), 0)
    while k > 0 and handoff_at(layer, zone, k, first) > when:
        k -= 1
    while handoff_at(layer, zone, k + 1, first) <= when:
        k += 1
    return k


def _occurrence(window: Window, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The window as it happens starting on `day`, or None (not on that weekday, or empty)."""
    if day.weekday() not in window.days:
        return None
    begins = local_instant(day, window.start, zone)
    ends_on = day + timedelta(days=1) if window.crosses_midnight else day
    ends = local_instant(ends_on, window.end, zone)
    return (begins, ends) if ends > begins else None


def in_windows(windows: Sequence[Window], zone: ZoneInfo, when: datetime) -> bool:
    """Whether `when` falls in any window (no windows: always)."""
    if not windows:
        return True
    today = when.astimezone(zone).date()
    for window in windows:
        for offset in (-1, 0, 1):
            span = _occurrence(window, today + timedelta(days=offset), zone)
            if span is not None and span[0] <= when < span[1]:
                return True
    return False


def layer_user_at(layer: Layer, zone: ZoneInfo, when: datetime) -> int | None:
    """Who the layer has on call at `when` (UTC), or None."""
    if not layer.participants:
        return None
    k = shift_index(layer, zone, when)
    if k is None or not in_windows(layer.windows, zone, when):
        return None
    return layer.participants[k % len(layer.participants)]


def _rotation(
    layer: Layer, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, int]]:
    """The layer's shifts overlapping [start, end), clipped to it, ignoring windows."""
    first = layer_start(layer, zone)
    k = shift_index(layer, zone, max(start, first))
    if k is None:
        return
    begins = handoff_at(layer, zone, k, first)
    count = len(layer.participants)
    while begins < end:
        ends = handoff_at(layer, zone, k + 1, first)
        if ends > begins:  # a day a zone skipped entirely (Samoa, 2011) has no shift
            yield max(begins, start), min(ends, end), layer.participants[k % count]
        k, begins = k + 1, ends


def window_spans(
    windows: Sequence[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the windows' occurrences overlapping [start, end), sorted and disjoint."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    spans = []
    for window in windows:
        day = first
        while day <= last:
            span = _occurrence(window, day, zone)
            if span is not None and span[0] < end and span[1] > start:
                spans.append((max(span[0], start), min(span[1], end)))
            day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for begins, ends in spans:
        if merged and begins <= merged[-1][1]:
            if ends > merged[-1][1]:
                merged[-1] = (merged[-1][0], ends)
        else:
            merged.append((begins, ends))
    return merged


def layer_intervals(
    layer: Layer, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, int]]:
    """Who the layer has on call over [start, end): sorted, disjoint (start, end, user) spans."""
    if not layer.participants or end <= start:
        return []
    turns = list(_rotation(layer, zone, start, end))
    if not layer.windows:
        return turns
    spans = window_spans(layer.windows, zone, start, end)
    covered = []
    i = j = 0
    while i < len(turns) and j < len(spans):
        begins = max(turns[i][0], spans[j][0])
        ends = min(turns[i][1], spans[j][1])
        if begins < ends:
            covered.append((begins, ends, turns[i][2]))
        if turns[i][1] <= spans[j][1]:
            i += 1
        else:
            j += 1
    return covered


# ---------------------------------------------------------------- the schedule


def on_call_at(schedule: Schedule, when: datetime) -> OnCall | None:
    """Who is on call at `when`, and from which override or layer; None for nobody."""
    moment = _utc(when)
    for index in range(len(schedule.overrides) - 1, -1, -1):
        override = schedule.overrides[index]
        if override.user_id in schedule.absent:
            continue
        if _utc(override.start) <= moment < _utc(override.end):
            return OnCall(override.user_id, Source("override", index))
    zone = zone_of(schedule.time_zone)
    for index in range(len(schedule.layers) - 1, -1, -1):
        user_id = layer_user_at(schedule.layers[index], zone, moment)
        if user_id is not None and user_id not in schedule.absent:
            return OnCall(user_id, Source("layer", index))
    return None


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Every turn on call over [start, end), in order, clipped to the range.

    Consecutive turns of one person are merged into one shift. Shifts never overlap;
    they leave a gap only where nobody is on call (a restricted or not yet started
    layer with nothing under it).
    """
    begin, finish = _utc(start), _utc(end)
    if finish <= begin:
        return []
    zone = zone_of(schedule.time_zone)
    absent = schedule.absent
    layers = [
        [turn for turn in layer_intervals(layer, zone, begin, finish) if turn[2] not in absent]
        for layer in schedule.layers
    ]
    overrides = [
        (index, max(_utc(o.start), begin), min(_utc(o.end), finish), o.user_id)
        for index, o in enumerate(schedule.overrides)
        if _utc(o.start) < finish
        and _utc(o.end) > begin
        and _utc(o.end) > _utc(o.start)
        and o.user_id not in absent
    ]
    edges = {begin, finish}
    for intervals in layers:
        for s, e, _user in intervals:
            edges.add(s)
            edges.add(e)
    for _index, s, e, _user in overrides:
        edges.add(s)
        edges.add(e)
    points = sorted(edges)
    cursor = [0] * len(layers)
    # The overrides running over each elementary span, kept as the sweep moves on.
    by_start = sorted(overrides, key=lambda o: o[1])
    by_end = sorted(overrides, key=lambda o: o[2])
    running: dict[int, int] = {}
    started = ended = 0
    result: list[Shift] = []
    for a, b in itertools.pairwise(points):
        while started < len(by_start) and by_start[started][1] <= a:
            running[by_start[started][0]] = by_start[started][3]
            started += 1
        while ended < len(by_end) and by_end[ended][2] <= a:
            running.pop(by_end[ended][0], None)
            ended += 1
        chosen = _winner(a, layers, cursor, running)
        if chosen is None:
            continue
        user_id, source = chosen
        last = result[-1] if result else None
        if last is not None and last.user_id == user_id and last.end == a:
            result[-1] = Shift(user_id, last.start, b, last.source)
        else:
            result.append(Shift(user_id, a, b, source))
    return result


def _winner(
    at: datetime,
    layers: list[list[tuple[datetime, datetime, int]]],
    cursor: list[int],
    running: dict[int, int],
) -> tuple[int, Source] | None:
    """Who is on call for the elementary span starting at `at`: the latest running override,
    else the highest layer with someone (the cursors only move on)."""
    if running:
        index = max(running)
        return running[index], Source("override", index)
    found = None
    for number, intervals in enumerate(layers):
        i = cursor[number]
        while i < len(intervals) and intervals[i][1] <= at:
            i += 1
        cursor[number] = i
        if i < len(intervals) and intervals[i][0] <= at:
            found = intervals[i][2], Source("layer", number)
    return found


def describe_windows(windows: Sequence[Window]) -> str:
    """'Mon-Fri 09:00-17:00', 'Sat, Sun all day'; '' for no windows."""
    return "; ".join(_describe(w) for w in windows)


def _describe(window: Window) -> str:
    days = sorted(window.days)
    if window.days == ALL_DAYS:
        named = "every day"
    elif days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        named = f"{DAY_NAMES[days[0]]}-{DAY_NAMES[days[-1]]}"
    else:
        named = ", ".join(DAY_NAMES[d] for d in days)
    if window.start == window.end:
        return (
            f"{named} all day"
            if window.start == time(0)
            else f"{named} from {window.start:%H:%M}, 24h"
        )
    return f"{named} {window.start:%H:%M}-{window.end:%H:%M}"
