"""Bodies for schedules, layers, overrides, calendar feeds and escalation policies."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from tocsin.auth.schemas import TeamRef, UserRef
from tocsin.catalogue.schemas import ServiceOut, ServiceRef
from tocsin.oncall.rotation import ShiftUnit
from tocsin.schemas import (
    FIRST_DAY,
    LAST_DAY,
    Id,
    Input,
    Integer,
    Label,
    Moment,
    Name,
    Output,
    Text,
    TimeZone,
)

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_SHIFT = {ShiftUnit.HOURS: 24 * 31, ShiftUnit.DAYS: 366, ShiftUnit.WEEKS: 52}
MAX_PARTICIPANTS = 100
MAX_LAYERS = 10
MAX_LEVELS = 20
MAX_TARGETS = 20
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _clock_time(value: object) -> object:
    """'09:00' (24-hour wall-clock time) to a time; anything else is left to be refused."""
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value)
        if match is None:
            raise ValueError("must be a time of day as HH:MM, from 00:00 to 23:59")
        return time(int(match[1]), int(match[2]))
    if isinstance(value, time):
        return value
    raise ValueError("must be a time of day as HH:MM, e.g. 09:00")


def _local_start(value: object) -> object:
    """'2026-03-02' (a day, at the handoff time) or '2026-03-02T18:00' (a local moment)."""
    if isinstance(value, datetime | date):
        parsed: date = value
    elif isinstance(value, str) and len(value) <= 32:
        try:
            parsed = (
                date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
            )
        except ValueError:
            raise ValueError(
                "must be a local date (2026-03-02) or date and time (2026-03-02T18:00)"
            ) from None
    else:
        raise ValueError("must be a local date (2026-03-02) or date and time (2026-03-02T18:00)")
    if isinstance(parsed, datetime):
        if parsed.tzinfo is not None:
            raise ValueError("is local time in the schedule's time zone: leave out the offset")
        parsed = parsed.replace(second=0, microsecond=0)
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return parsed


ClockTime = Annotated[time, BeforeValidator(_clock_time)]
LocalStart = Annotated[date | datetime, BeforeValidator(_local_start)]
LayerName = Label


# ---------------------------------------------------------------- schedules and layers


class RestrictionIn(Input):
    """On `days`, from `start` to `end` local time; an end at or before the start is the next
    day (22:00-06:00), and start == end is the whole day."""

    days: list[DayName] = Field(default=list(DAY_KEYS), min_length=1, max_length=7)
    start: ClockTime
    end: ClockTime


class LayerIn(Input):
    name: LayerName = ""
    participant_ids: list[Id] = Field(
        min_length=1, max_length=MAX_PARTICIPANTS, description="In rotation order."
    )
    shift_unit: ShiftUnit
    shift_length: Integer = Field(
        ge=1, description="How many hours, days or weeks one shift lasts."
    )
    handoff_time: ClockTime = Field(
        default=time(9), description="Local time in the schedule's zone, HH:MM."
    )
    start: LocalStart = Field(
        description="Local date (the rotation starts that day at the handoff time) or local "
        "date and time (2026-03-02T18:00) in the schedule's zone."
    )
    restrictions: list[RestrictionIn] = Field(
        default_factory=list,
        max_length=14,
        description="When the layer has anyone on call; empty means always.",
    )

    @field_validator("shift_length")
    @classmethod
    def _fits_its_unit(cls, value: int, info: ValidationInfo) -> int:
        unit = info.data.get("shift_unit")
        if unit is not None and value > MAX_SHIFT[unit]:
            raise ValueError(f"is at most {MAX_SHIFT[unit]} {unit.value}")
        return value


class ScheduleCreate(Input):
    name: Name
    description: Text = ""
    time_zone: TimeZone = "UTC"
    team_id: Id | None = None
    layers: list[LayerIn] = Field(default_factory=list, max_length=MAX_LAYERS)


class ScheduleUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    time_zone: TimeZone | None = None
    team_id: Id | None = None


class LayerOrder(Input):
    layer_ids: list[Id] = Field(max_length=MAX_LAYERS, description="Bottom layer first.")


class OverrideCreate(Input):
    user_id: Id
    starts_at: Moment
    ends_at: Moment
    note: Text = ""

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts_at")
        if starts is not None and value <= starts:
            raise ValueError("must be after the start")
        return value


class ScheduleRef(Output):
    id: int
    name: str


class RestrictionOut(Output):
    days: list[DayName]
    start: str
    end: str


class LayerOut(Output):
    id: int
    position: int
    name: str
    participants: list[UserRef]
    shift_unit: ShiftUnit
    shift_length: int
    handoff_time: str
    start: str
    restrictions: list[RestrictionOut]

    @field_validator("participants", mode="before")
    @classmethod
    def _people(cls, value: Any) -> Any:
        return [getattr(p, "user", p) for p in value]

    @field_validator("handoff_time", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        return value.strftime("%H:%M") if isinstance(value, time) else value

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M")
        return value.isoformat() if isinstance(value, date) else value


class ScheduleOut(ScheduleRef):
    description: str
    time_zone: str
    team: TeamRef | None
    layers: list[LayerOut]
    created_at: datetime


class OverrideOut(Output):
    id: int
    schedule_id: int
    user: UserRef
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: UserRef | None
    created_at: datetime


class ShiftOut(Output):
    user: UserRef
    start: datetime
    end: datetime
    source: Literal["layer", "override"]
    layer_id: int | None
    override_id: int | None


class OnCallOut(Output):
    schedule: ScheduleRef
    at: datetime
    user: UserRef | None
    source: Literal["layer", "override"] | None
    layer_id: int | None
    override_id: int | None
    until: datetime | None = Field(description="When this turn ends (null: not within 60 days).")


class ShiftRange(Input):
    start: Moment | None = Field(default=None, description="Default: now.")
    end: Moment | None = Field(default=None, description="Default: two weeks after the start.")


class AtQuery(Input):
    at: Moment | None = Field(default=None, description="Default: now.")


class FeedCreated(Output):
    url: str = Field(
        description="The calendar feed's URL, secret included. Shown this once; rotating "
        "gives a new one and stops the old."
    )


# ---------------------------------------------------------------- escalation policies


class TargetIn(Input):
    type: Literal["user", "schedule", "team"]
    id: Id


class LevelIn(Input):
    delay_minutes: Integer = Field(
        ge=1, le=1440, description="Minutes before the next level (or the repeat) is paged."
    )
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)


class PolicyCreate(Input):
    name: Name
    description: Text = ""
    repeat_count: Integer = Field(
        default=0, ge=0, le=9, description="Times to run the levels again after the last."
    )
    team_id: Id | None = None
    levels: list[LevelIn] = Field(default_factory=list, max_length=MAX_LEVELS)


class PolicyUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    repeat_count: Integer | None = Field(default=None, ge=0, le=9)
    team_id: Id | None = None


class LevelsReplace(Input):
    levels: list[LevelIn] = Field(max_length=MAX_LEVELS)


class LevelOrder(Input):
    level_ids: list[Id] = Field(max_length=MAX_LEVELS, description="First level first.")


class TargetOut(Output):
    type: Literal["user", "schedule", "team"] = Field(validation_alias="kind")
    id: int = Field(validation_alias="target_id")
    name: str = Field(validation_alias="label")


class LevelOut(Output):
    id: int
    position: int
    delay_minutes: int
    targets: list[TargetOut]


class PolicyRef(Output):
    id: int
    name: str


class PolicyOut(PolicyRef):
    description: str
    repeat_count: int
    team: TeamRef | None
    levels: list[LevelOut]
    created_at: datetime


class ServiceWithPolicyOut(ServiceOut):
    """A service and who its alerts page: null means nobody is paged."""

    escalation_policy: PolicyRef | None


class ServicePolicySet(Input):
    escalation_policy_id: Id | None


class ServicePolicyOut(Output):
    service: ServiceRef
    escalation_policy: PolicyRef | None


class OnCallPersonOut(Output):
    user: UserRef
    via: str
    until: datetime | None


class ServiceOnCallOut(Output):
    service: ServiceRef
    escalation_policy: PolicyRef | None
    on_call: list[OnCallPersonOut]


class MyShiftOut(Output):
    schedule: ScheduleRef
    start: datetime
    end: datetime
    source: Literal["layer", "override"]
