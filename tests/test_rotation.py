"""The rotation rules, checked exhaustively: who is on call at any instant, across DST.

`on_call_at` (one instant, computed directly) and `shifts` (a range, computed by
sweeping every layer's turns) are built independently, so each checks the other.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tocsin.oncall.rotation import (
    ALL_DAYS,
    WEEKDAYS,
    Layer,
    Override,
    Schedule,
    Shift,
    ShiftUnit,
    Source,
    Window,
    describe_windows,
    layer_user_at,
    on_call_at,
    shifts,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
# Lord Howe moves its clocks by half an hour; Santiago changes at midnight.
ZONES = [BERLIN, NEW_YORK, "UTC", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"]
# DST changes in 2026: the ranges start near them.
CHANGES = [
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin springs forward
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin falls back
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York springs forward
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York falls back
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe and Santiago, roughly
    datetime(2026, 9, 6, 4, 0, tzinfo=UTC),
]
STEP = timedelta(microseconds=1)

# ---------------------------------------------------------------- strategies

quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
clock_times = quarter_hours | st.sampled_from([time(2, 0), time(2, 30), time(0, 0), time(9, 0)])
days_of_week = st.frozensets(st.integers(0, 6), min_size=1).map(frozenset) | st.sampled_from(
    [ALL_DAYS, WEEKDAYS, frozenset({5, 6})]
)
windows = st.builds(Window, clock_times, clock_times, days_of_week)
start_dates = st.dates(date(2025, 12, 1), date(2026, 11, 30))


@st.composite
def layer_starts(draw) -> date | datetime:
    day = draw(start_dates)
    if draw(st.booleans()):
        return day
    return datetime.combine(day, draw(clock_times))


@st.composite
def layers(draw, with_windows: bool = True) -> Layer:
    unit = draw(st.sampled_from(list(ShiftUnit)))
    length = draw(st.integers(1, 36) if unit is ShiftUnit.HOURS else st.integers(1, 3))
    return Layer(
        participants=tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))),
        shift_length=length,
        shift_unit=unit,
        handoff=draw(clock_times),
        start=draw(layer_starts()),
        windows=tuple(draw(st.lists(windows, max_size=2))) if with_windows else (),
    )


@st.composite
def ranges(draw) -> tuple[datetime, datetime]:
    near = draw(st.sampled_from(CHANGES))
    start = near + timedelta(minutes=draw(st.integers(-6 * 24 * 60, 24 * 60)))
    return start, start + timedelta(minutes=draw(st.integers(1, 21 * 24 * 60)))


@st.composite
def overrides(draw, start: datetime, end: datetime) -> Override:
    span = int((end - start).total_seconds() // 60)
    begins = start + timedelta(minutes=draw(st.integers(-600, span)))
    length = timedelta(minutes=draw(st.integers(1, 72 * 60)))
    return Override(draw(st.integers(1, 6)), begins, begins + length)


@st.composite
def cases(draw, with_windows: bool = True) -> tuple[Schedule, datetime, datetime]:
    start, end = draw(ranges())
    schedule = Schedule(
        time_zone=draw(st.sampled_from(ZONES)),
        layers=tuple(draw(st.lists(layers(with_windows), max_size=3))),
        overrides=tuple(draw(st.lists(overrides(start, end), max_size=3))),
    )
    return schedule, start, end


def instants(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    span = int((end - start) / STEP)
    return st.integers(0, span - 1).map(lambda n: start + n * STEP)


def shift_at(found: list[Shift], when: datetime) -> Shift | None:
    return next((s for s in found if s.start <= when < s.end), None)


def user_at(schedule: Schedule, when: datetime) -> int | None:
    on_call = on_call_at(schedule, when)
    return on_call.user_id if on_call else None


# ---------------------------------------------------------------- shifts agree with on_call_at


@settings(max_examples=300, deadline=None)
@given(case=cases(), data=st.data())
def test_every_instant_has_exactly_the_person_the_rules_say(case, data):
    schedule, start, end = case
    found = shifts(schedule, start, end)
    # In order, inside the range, never overlapping, never empty.
    for shift in found:
        assert start <= shift.start < shift.end <= end
        assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC
    for before, after in itertools.pairwise(found):
        assert before.end <= after.start
        # The same person's consecutive turns are one shift.
        assert not (before.end == after.start and before.user_id == after.user_id)
    # Where each shift begins and ends, and at random instants, on_call_at agrees.
    for shift in found:
        assert user_at(schedule, shift.start) == shift.user_id
        assert user_at(schedule, shift.end - STEP) == shift.user_id
        if shift.end < end and shift_at(found, shift.end) is None:
            assert user_at(schedule, shift.end) is None
    for when in data.draw(st.lists(instants(start, end), min_size=1, max_size=25)):
        shift = shift_at(found, when)
        assert user_at(schedule, when) == (shift.user_id if shift else None), when


@settings(max_examples=200, deadline=None)
@given(case=cases(with_windows=False))
def test_shifts_tile_the_range_when_no_layer_leaves_a_gap(case):
    schedule, start, end = case
    zone = ZoneInfo(schedule.time_zone)
    from tocsin.oncall.rotation import layer_start

    assume(any(layer_start(layer, zone) <= start for layer in schedule.layers))
    found = shifts(schedule, start, end)
    assert found[0].start == start
    assert found[-1].end == end
    for before, after in itertools.pairwise(found):
        assert before.end == after.start
        assert before.user_id != after.user_id


@settings(max_examples=200, deadline=None)
@given(case=cases(), data=st.data())
def test_a_sub_range_has_the_same_shifts_clipped(case, data):
    """Asking for less never changes the answer: the view of two weeks is the year's, cut."""
    schedule, start, end = case
    whole = shifts(schedule, start, end)
    a = data.draw(instants(start, end))
    b = data.draw(instants(a, end)) + STEP
    part = shifts(schedule, a, b)
    expected = [
        (s.user_id, max(s.start, a), min(s.end, b)) for s in whole if s.start < b and s.end > a
    ]
    assert [(s.user_id, s.start, s.end) for s in part] == expected


# ---------------------------------------------------------------- handoffs keep local time

# Handoff times that exist every day in these zones (no DST gap at them).
SAFE_TIMES = st.builds(time, st.integers(4, 23), st.sampled_from([0, 30]))


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from([BERLIN, NEW_YORK, "Australia/Lord_Howe"]),
    unit=st.sampled_from([ShiftUnit.DAYS, ShiftUnit.WEEKS]),
    length=st.integers(1, 3),
    handoff=SAFE_TIMES,
    start_day=start_dates,
    span=ranges(),
)
def test_day_and_week_handoffs_stay_at_local_wall_clock_time(
    zone_name, unit, length, handoff, start_day, span
):
    zone = ZoneInfo(zone_name)
    layer = Layer((1, 2), length, unit, handoff, start_day)
    start, end = span
    found = shifts(Schedule(zone_name, (layer,)), start, end)
    step = timedelta(days=length * (7 if unit is ShiftUnit.WEEKS else 1))
    for shift in found:
        if shift.start > start:
            local = shift.start.astimezone(zone)
            assert local.time() == handoff
            assert (local.date() - start_day) % step == timedelta(0)
        if shift.start > start and shift.end < end:
            local_start, local_end = shift.start.astimezone(zone), shift.end.astimezone(zone)
            assert local_end.date() - local_start.date() == step
            # A day of a DST change lasts 23 or 25 hours (23.5 or 24.5 on Lord Howe).
            assert abs((shift.end - shift.start) - step) <= timedelta(hours=1)


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    length=st.integers(1, 36),
    start=layer_starts(),
    span=ranges(),
)
def test_hour_shifts_are_real_elapsed_hours(zone_name, length, start, span):
    layer = Layer((1, 2), length, ShiftUnit.HOURS, time(9), start)
    begin, end = span
    for shift in shifts(Schedule(zone_name, (layer,)), begin, end):
        if begin < shift.start and shift.end < end:
            assert shift.end - shift.start == timedelta(hours=length)


# ---------------------------------------------------------------- who wins


@settings(max_examples=200, deadline=None)
@given(case=cases(), data=st.data())
def test_the_latest_override_wins_over_everything(case, data):
    schedule, start, end = case
    assume(schedule.overrides)
    last = schedule.overrides[-1]
    when = data.draw(instants(last.start, last.end))
    on_call = on_call_at(schedule, when)
    assert on_call is not None and on_call.user_id == last.user_id
    assert on_call.source == Source("override", len(schedule.overrides) - 1)
    if start <= when < end:
        shift = shift_at(shifts(schedule, start, end), when)
        assert shift is not None and shift.user_id == last.user_id


@settings(max_examples=200, deadline=None)
@given(case=cases(), data=st.data())
def test_a_higher_layer_wins_only_where_it_has_someone(case, data):
    schedule, start, end = case
    schedule = Schedule(schedule.time_zone, schedule.layers)  # no overrides
    zone = ZoneInfo(schedule.time_zone)
    when = data.draw(instants(start, end))
    by_layer = [layer_user_at(layer, zone, when) for layer in schedule.layers]
    having = [i for i, user in enumerate(by_layer) if user is not None]
    on_call = on_call_at(schedule, when)
    if not having:
        assert on_call is None
    else:
        top = having[-1]
        assert on_call is not None
        assert (on_call.user_id, on_call.source) == (by_layer[top], Source("layer", top))


# ---------------------------------------------------------------- worked examples


def at(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_a_daily_0900_handoff_in_berlin_across_spring_forward():
    layer = Layer((1, 2, 3), 1, ShiftUnit.DAYS, time(9), date(2026, 3, 27))
    schedule = Schedule(BERLIN, (layer,))
    found = shifts(schedule, at(BERLIN, 2026, 3, 27, 9), at(BERLIN, 2026, 3, 31, 9))
    assert [(s.user_id, s.start, s.end) for s in found] == [
        (1, at(BERLIN, 2026, 3, 27, 9), at(BERLIN, 2026, 3, 28, 9)),
        (2, at(BERLIN, 2026, 3, 28, 9), at(BERLIN, 2026, 3, 29, 9)),
        (3, at(BERLIN, 2026, 3, 29, 9), at(BERLIN, 2026, 3, 30, 9)),
        (1, at(BERLIN, 2026, 3, 30, 9), at(BERLIN, 2026, 3, 31, 9)),
    ]
    assert found[1].end - found[1].start == timedelta(hours=23)
    assert found[1].end == datetime(2026, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST


def test_a_weekly_monday_rotation_in_new_york_across_fall_back():
    layer = Layer((1, 2), 1, ShiftUnit.WEEKS, time(9), date(2026, 10, 26))  # a Monday
    found = shifts(
        Schedule(NEW_YORK, (layer,)), at(NEW_YORK, 2026, 10, 26, 9), at(NEW_YORK, 2026, 11, 9, 9)
    )
    assert [
        (s.user_id, s.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%a %H:%M %Z")) for s in found
    ] == [
        (1, "Mon 09:00 EDT"),
        (2, "Mon 09:00 EST"),
    ]
    assert found[0].end - found[0].start == timedelta(days=7, hours=1)


def test_twelve_hour_shifts_are_twelve_real_hours_across_dst():
    layer = Layer((1, 2), 12, ShiftUnit.HOURS, time(8), date(2026, 3, 28))
    found = shifts(
        Schedule(BERLIN, (layer,)), at(BERLIN, 2026, 3, 28, 8), at(BERLIN, 2026, 3, 30, 8)
    )
    local = [s.start.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M") for s in found]
    assert local == ["28 08:00", "28 20:00", "29 09:00", "29 21:00"]


def test_a_weekday_daytime_layer_over_a_weekly_rotation():
    """Journey 6: a weekly rotation, with a weekday daytime layer on top."""
    weekly = Layer((1, 2), 1, ShiftUnit.WEEKS, time(9), date(2026, 3, 2))
    office = Layer(
        (3,), 1, ShiftUnit.WEEKS, time(9), date(2026, 3, 2), (Window(time(9), time(17), WEEKDAYS),)
    )
    schedule = Schedule(BERLIN, (weekly, office))
    assert user_at(schedule, at(BERLIN, 2026, 3, 3, 10)) == 3  # Tuesday 10:00
    assert user_at(schedule, at(BERLIN, 2026, 3, 3, 18)) == 1  # Tuesday evening
    assert user_at(schedule, at(BERLIN, 2026, 3, 7, 10)) == 1  # Saturday
    assert user_at(schedule, at(BERLIN, 2026, 3, 10, 18)) == 2  # the next week
    day = shifts(schedule, at(BERLIN, 2026, 3, 3, 0), at(BERLIN, 2026, 3, 4, 0))
    assert [(s.user_id, s.start.astimezone(ZoneInfo(BERLIN)).hour) for s in day] == [
        (1, 0),
        (3, 9),
        (1, 17),
    ]
    assert day[1].source == Source("layer", 1)


def test_a_night_window_crosses_midnight_and_a_weekend_window_is_whole_days():
    nights = Layer((1,), 1, ShiftUnit.DAYS, time(0), date(2026, 1, 1), (Window(time(22), time(6)),))
    weekend = Layer(
        (2,),
        1,
        ShiftUnit.DAYS,
        time(0),
        date(2026, 1, 1),
        (Window(time(0), time(0), frozenset({5, 6})),),
    )
    schedule = Schedule(BERLIN, (nights, weekend))
    assert user_at(schedule, at(BERLIN, 2026, 3, 3, 23)) == 1
    assert user_at(schedule, at(BERLIN, 2026, 3, 4, 5, 59)) == 1
    assert user_at(schedule, at(BERLIN, 2026, 3, 4, 6)) is None
    assert user_at(schedule, at(BERLIN, 2026, 3, 7, 12)) == 2  # Saturday noon
    assert user_at(schedule, at(BERLIN, 2026, 3, 9, 0, 30)) == 1  # Monday, after the weekend
    assert describe_windows(weekend.windows) == "Sat, Sun all day"
    assert describe_windows(nights.windows) == "every day 22:00-06:00"
    assert describe_windows((Window(time(9), time(17), WEEKDAYS),)) == "Mon-Fri 09:00-17:00"


def test_an_override_wins_and_nobody_is_on_call_before_a_layer_starts():
    layer = Layer((1, 2), 1, ShiftUnit.DAYS, time(9), datetime(2026, 3, 2, 12, 0))
    cover = Override(7, at(BERLIN, 2026, 3, 3, 8), at(BERLIN, 2026, 3, 3, 10))
    schedule = Schedule(BERLIN, (layer,), (cover,))
    assert user_at(schedule, at(BERLIN, 2026, 3, 2, 11)) is None
    found = shifts(schedule, at(BERLIN, 2026, 3, 2, 0), at(BERLIN, 2026, 3, 4, 0))
    local = [(s.user_id, s.start.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M")) for s in found]
    # The first shift runs from the start to the next day's handoff.
    assert local == [(1, "02 12:00"), (7, "03 08:00"), (2, "03 10:00")]
    assert found[1].source == Source("override", 0)


def test_a_handoff_inside_the_spring_forward_gap_happens_an_hour_later():
    layer = Layer((1, 2), 1, ShiftUnit.DAYS, time(2, 30), date(2026, 3, 28))
    found = shifts(
        Schedule(BERLIN, (layer,)), at(BERLIN, 2026, 3, 28, 12), at(BERLIN, 2026, 3, 30, 12)
    )
    local = [s.start.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M") for s in found]
    assert local == ["28 12:00", "29 03:30", "30 02:30"]


@pytest.mark.parametrize(
    ("zone", "night", "handoff", "happens", "wall_clock"),
    [
        # Spring forward: 02:30 does not exist; it happens once the clocks have moved on.
        (BERLIN, date(2026, 3, 29), time(2, 30), "01:30Z", "03:30 CEST"),
        (NEW_YORK, date(2026, 3, 8), time(2, 30), "07:30Z", "03:30 EDT"),
        # Fall back: 02:30 (Berlin) and 01:30 (New York) happen twice; the first time counts.
        (BERLIN, date(2026, 10, 25), time(2, 30), "00:30Z", "02:30 CEST"),
        (NEW_YORK, date(2026, 11, 1), time(1, 30), "05:30Z", "01:30 EDT"),
    ],
    ids=["berlin-skipped", "new-york-skipped", "berlin-twice", "new-york-twice"],
)
def test_a_handoff_on_a_dst_night_at_a_skipped_or_repeated_time(
    zone, night, handoff, happens, wall_clock
):
    """The rule the README and the layer form state: a skipped time happens once the clocks
    have moved on (02:30 becomes 03:30 summer time), a repeated one the first time."""
    local = ZoneInfo(zone)
    layer = Layer((1, 2), 1, ShiftUnit.DAYS, handoff, night - timedelta(days=1))
    schedule = Schedule(zone, (layer,))
    found = shifts(
        schedule,
        datetime.combine(night - timedelta(days=1), time(12), tzinfo=local),
        datetime.combine(night + timedelta(days=1), time(12), tzinfo=local),
    )
    assert [s.user_id for s in found] == [1, 2, 1]
    handover = found[1].start
    assert handover == datetime.fromisoformat(f"{night.isoformat()}T{happens[:-1]}+00:00")
    assert handover.astimezone(local).strftime("%H:%M %Z") == wall_clock
    # One handoff that night: the person before hands over once, not twice.
    assert found[0].end == handover
    assert on_call_at(schedule, handover - STEP).user_id == 1
    assert on_call_at(schedule, handover).user_id == 2
    assert on_call_at(schedule, handover + timedelta(hours=1)).user_id == 2


def test_naive_instants_are_refused():
    schedule = Schedule("UTC", (Layer((1,), 1, ShiftUnit.DAYS, time(9), date(2026, 1, 1)),))
    with pytest.raises(ValueError):
        on_call_at(schedule, datetime(2026, 3, 2, 9))
    with pytest.raises(ValueError):
        Layer((1,), 0, ShiftUnit.DAYS, time(9), date(2026, 1, 1))


@settings(max_examples=150, deadline=None)
@given(case=cases(), gone=st.frozensets(st.integers(1, 5), max_size=2), data=st.data())
def test_an_absent_person_leaves_gaps_and_nothing_else_moves(case, gone, data):
    """A deactivated person is never on call; at any instant the answer is what it would be
    with their turns taken out, so whoever is beneath them shows through."""
    schedule, start, end = case
    without = Schedule(schedule.time_zone, schedule.layers, schedule.overrides, absent=gone)
    found = shifts(without, start, end)
    assert all(s.user_id not in gone for s in found)
    when = data.draw(instants(start, end))
    answer = on_call_at(without, when)
    assert (answer.user_id if answer else None) == (
        shift_at(found, when).user_id if shift_at(found, when) else None
    )
    before = on_call_at(schedule, when)
    if before is not None and before.user_id not in gone:
        # Someone present who was on call stays on call (they were above or instead of
        # anyone absent); an absent person's time falls to what lies beneath.
        assert answer is not None and answer.user_id == before.user_id
