"""Bodies for status pages, their components, public incidents and maintenance (Tocsin's API).

The public Statuspage-compatible JSON is not built from these: see `v2.py`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from tocsin.paging.addresses import HIDDEN
from tocsin.schemas import (
    FIRST_DAY,
    MAX_EMAIL_LENGTH,
    WEB_ADDRESS_PATTERN,
    Flag,
    Id,
    Input,
    Integer,
    Moment,
    Name,
    Output,
    Text,
    TimeZone,
    Title,
    WebAddress,
    email_problem,
)
from tocsin.statuspage.workflow import ComponentStatus, Impact, IncidentStatus, MaintenanceStatus

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def _slug(value: str) -> str:
    value = value.lower()
    if not SLUG_PATTERN.match(value):
        raise ValueError(
            "use lowercase letters, digits and hyphens (not at the ends), e.g. acme-cloud"
        )
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_slug)
]
Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    AfterValidator(_no_nul),
]
Position = Annotated[Integer, Field(ge=0, le=10_000)]
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: object) -> object:
    """A day as JSON gives it, "2026-03-02"; a number would be read as a timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and DAY_PATTERN.match(value):
        return value
    raise ValueError("must be a date written YYYY-MM-DD, e.g. 2026-03-02")


def _from_first_day(value: date) -> date:
    if value < FIRST_DAY:
        raise ValueError(f"must be {FIRST_DAY} or later")
    return value


Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_from_first_day)]
IncidentKey = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]


# ---------------------------------------------------------------- pages


class PageCreate(Input):
    slug: Slug = Field(description="The address: /status/{slug}.")
    name: Name
    public: Flag = Field(default=True, description="Private pages need a Tocsin login.")
    time_zone: TimeZone = "UTC"
    url: WebAddress = Field(
        default="", description="Where readers find the page; empty means Tocsin's own address."
    )


class PageUpdate(Input):
    slug: Slug | None = None
    name: Name | None = None
    public: Flag | None = None
    time_zone: TimeZone | None = None
    url: WebAddress | None = None


class PageOut(Output):
    id: int
    code: str
    slug: str
    name: str
    public: bool
    time_zone: str
    url: str
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- groups and components


class GroupCreate(Input):
    name: Name
    description: Text = ""
    position: Position | None = None


class GroupUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    position: Position | None = None


class GroupOut(Output):
    id: int
    code: str
    name: str
    description: str
    position: int


class ComponentCreate(Input):
    name: Name
    description: Text = ""
    group_id: Id | None = None
    status: ComponentStatus = ComponentStatus.OPERATIONAL
    position: Position | None = None
    showcase: Flag = Field(default=True, description="Show its 90-day uptime bar.")
    service_id: Id | None = Field(
        default=None, description="The Tocsin service behind it, for pre-filling incidents."
    )
    start_date: Day | None = Field(
        default=None,
        description="The day its uptime is measured from (earlier days show no data); "
        "not in the future. Default: today in the page's time zone.",
    )


class ComponentUpdate(Input):
    """Responders may change `status` alone; everything else needs an admin."""

    name: Name | None = None
    description: Text | None = None
    group_id: Id | None = None
    status: ComponentStatus | None = None
    position: Position | None = None
    showcase: Flag | None = None
    service_id: Id | None = None
    start_date: Day | None = None


class ComponentOut(Output):
    id: int
    code: str
    name: str
    description: str
    status: ComponentStatus
    position: int
    group_id: int | None
    showcase: bool
    service_id: int | None
    # Null on components added before start dates were kept: the day they were added.
    start_date: date | None
    created_at: datetime
    updated_at: datetime


OutageMinutes = Annotated[float, Strict(), Field(ge=0, le=25 * 60)]
UptimePercent = Annotated[float, Strict(), Field(ge=0, le=100)]


class PastDay(Input):
    """One past day's uptime from another tool: its outage minutes or its uptime percentage."""

    date: Day
    outage_minutes: OutageMinutes | None = None
    uptime_percent: UptimePercent | None = None

    @model_validator(mode="after")
    def _one_figure(self) -> PastDay:
        if (self.outage_minutes is None) == (self.uptime_percent is None):
            raise ValueError("give either outage_minutes or uptime_percent for each day")
        return self


class UptimeImport(Input):
    """Past days (within the 90-day window, before today) to stand for what Tocsin measured."""

    days: Annotated[list[PastDay], Field(min_length=1, max_length=90)]


class PastDayOut(Output):
    date: date
    outage_minutes: float


class UptimeImported(Output):
    component_id: int
    start_date: date
    days: list[PastDayOut]


class ComponentStatusChoice(Input):
    component_id: Id
    status: ComponentStatus


ComponentChoices = Annotated[list[ComponentStatusChoice], Field(max_length=500)]


# ---------------------------------------------------------------- public incidents


class PublicIncidentCreate(Input):
    name: Title
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    impact: Impact | None = Field(
        default=None, description="Null: from the worst component status chosen."
    )
    body: Body = Field(description="The first update, as the public reads it.")
    components: ComponentChoices = Field(default_factory=list)
    notify: Flag = Field(default=True, description="Tell subscribers about this update.")
    incident_key: IncidentKey | None = Field(
        default=None, description="The Tocsin incident it is about, e.g. INC-42."
    )


class PublicIncidentEdit(Input):
    name: Title | None = None
    impact: Impact | None = None


class UpdatePost(Input):
    status: IncidentStatus
    body: Body
    components: ComponentChoices = Field(default_factory=list)
    impact: Impact | None = None
    notify: Flag = True


class AffectedOut(Output):
    component_id: int | None
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


class UpdateOut(Output):
    id: int
    code: str
    status: IncidentStatus
    body: str
    notify: bool
    created_at: datetime
    display_at: datetime
    affected: list[AffectedOut]


class IncidentComponentOut(Output):
    component_id: int
    status: ComponentStatus


class PublicIncidentOut(Output):
    id: int
    code: str
    page_id: int
    name: str
    impact: Impact
    status: IncidentStatus
    incident_key: str | None = None
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    components: list[IncidentComponentOut]
    updates: list[UpdateOut]


# ---------------------------------------------------------------- maintenance


ComponentIds = Annotated[list[Id], Field(max_length=500)]


class MaintenanceCreate(Input):
    name: Title
    scheduled_for: Moment
    scheduled_until: Moment
    component_ids: ComponentIds = Field(default_factory=list)
    body: Body
    automatic: Flag = Field(
        default=True, description="Start and complete it at the scheduled times."
    )
    remind_subscribers: Flag = True
    notify: Flag = True


class MaintenanceEdit(Input):
    """Only while it is scheduled."""

    name: Title | None = None
    scheduled_for: Moment | None = None
    scheduled_until: Moment | None = None
    component_ids: ComponentIds | None = None
    automatic: Flag | None = None
    remind_subscribers: Flag | None = None


class MaintenanceUpdatePost(Input):
    status: MaintenanceStatus
    body: Body
    notify: Flag = True


class MaintenanceUpdateOut(Output):
    id: int
    code: str
    status: MaintenanceStatus
    body: str
    notify: bool
    created_at: datetime
    display_at: datetime


class MaintenanceComponentOut(Output):
    component_id: int
    status_before: ComponentStatus | None


class MaintenanceOut(Output):
    id: int
    code: str
    page_id: int
    name: str
    status: MaintenanceStatus
    scheduled_for: datetime
    scheduled_until: datetime
    automatic: bool
    remind_subscribers: bool
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    components: list[MaintenanceComponentOut]
    updates: list[MaintenanceUpdateOut]


# ---------------------------------------------------------------- subscribers


class SubscriberKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class SubscriberCreate(Input):
    """A subscriber added by a responder. Without components: the whole page."""

    kind: SubscriberKind = SubscriberKind.EMAIL
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2048)]
    component_ids: list[Id] = Field(default_factory=list, max_length=500)
    # An email address is asked to confirm unless the person already agreed elsewhere.
    skip_confirmation: Flag = False

    @model_validator(mode="after")
    def _address_fits_the_kind(self) -> SubscriberCreate:
        address = self.address
        if "\x00" in address or any(c.isspace() for c in address):
            raise ValueError("the address must not contain spaces")
        if HIDDEN in address:
            raise ValueError("type the whole address: a shortened one (with …) cannot be used")
        if self.kind is SubscriberKind.EMAIL:
            if problem := email_problem(address):
                raise ValueError(f"an email subscriber needs one email address: {problem}")
            if len(address) > MAX_EMAIL_LENGTH:
                raise ValueError("an email subscriber needs an email address")
            self.address = address.lower()
        elif not WEB_ADDRESS_PATTERN.match(address):
            raise ValueError("a webhook subscriber needs an http(s):// URL")
        return self


class SubscriberDeliveryOut(Output):
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    due_at: datetime
    title: str


class SubscriberOut(Output):
    id: int
    page_id: int
    kind: SubscriberKind
    address: str = Field(description="A webhook's scheme and host only: never its token.")
    component_ids: list[int]
    components: list[str]
    confirmed_at: datetime | None
    created_at: datetime
    last_delivery: SubscriberDeliveryOut | None = None
