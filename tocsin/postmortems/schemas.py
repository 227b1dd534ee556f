"""Bodies for postmortems: saving sections, moving through review, the blog's filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from tocsin.auth.schemas import UserRef
from tocsin.postmortems.workflow import Category, Status
from tocsin.schemas import (
    Id,
    Input,
    Integer,
    Moment,
    Output,
    QueryId,
    SearchText,
    Text,
    TimeZone,
)

IncidentKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class TimelineRow(Input):
    at: Moment
    text: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1)]


class WhyStep(Input):
    why: Text = ""
    answer: Text = Field(default="", description="Leads to the next why.")


class PostmortemSave(Input):
    """Only the sections present change. A save names the version it edited: when a newer
    version changed one of the same sections, the answer is 409 and nothing is written."""

    base_version: Integer = Field(ge=1, le=1_000_000, description="The version you edited.")
    summary: Text | None = None
    leadup: Text | None = None
    fault: Text | None = None
    impact: Text | None = None
    detection: Text | None = None
    response: Text | None = None
    recovery: Text | None = None
    timeline: list[TimelineRow] | None = Field(default=None, max_length=500)
    timeline_time_zone: TimeZone | None = None
    five_whys: list[WhyStep] | None = Field(
        default=None, max_length=20, description="Ordered: each answer leads to the next why."
    )
    root_cause: Text | None = None
    root_cause_category: Category | None = Field(
        default=None, description="Bug, Change, Scale, Architecture, Dependency or Unknown."
    )
    backlog_check: Text | None = None
    related_incidents: list[IncidentKey] | None = Field(default=None, max_length=50)
    went_well: Text | None = None
    went_wrong: Text | None = None
    got_lucky: Text | None = None


class PostmortemCreate(Input):
    owner_id: Id | None = Field(default=None, description="Defaults to the incident manager.")


class StatusMove(Input):
    status: Status
    comment: Text = Field(default="", description="Required when requesting changes.")


class OwnerChange(Input):
    owner_id: Id


class PostmortemFilters(Input):
    """Filters of the list and of the blog."""

    status: list[Status] = Field(default_factory=list, max_length=4)
    q: SearchText = Field(default="", description="Words the published text must all have.")
    service_id: QueryId | None = None
    team_id: QueryId | None = None
    category: Category | None = None
    month: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = Field(
        default=None, description="YYYY-MM of publication."
    )
    limit: int = Field(default=50, ge=1, le=200)


class PostmortemOut(Output):
    incident_key: str
    incident_summary: str
    severity: str
    restricted: bool
    status: Status
    allowed_moves: list[Status]
    owner: UserRef | None
    due_at: datetime
    overdue: bool
    version: int
    published_version: int | None
    category: Category | None
    review_comment: str
    review_requested_by: UserRef | None
    approved_by: UserRef | None
    approved_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    saved_by: UserRef | None
    saved_at: datetime
    document: dict[str, Any]


class PostmortemListItem(Output):
    incident_key: str
    title: str
    severity: str
    status: Status
    owner: UserRef | None
    due_at: datetime
    category: Category | None
    service: str | None
    team: str | None
    published_at: datetime | None


class RevisionOut(Output):
    version: int
    changed: list[str]
    saved_by: UserRef | None
    saved_at: datetime


class FindingOut(Output):
    """Advice of the blameless check: `text` is section[start:end]."""

    section: str
    start: int
    end: int
    text: str
    kind: str = Field(description="person (a name from the directory) or phrase (blame wording)")
    suggestion: str
    dismissed_by: UserRef | None = None
    dismissed_at: datetime | None = None


class FindingDismiss(Input):
    section: Annotated[str, StringConstraints(min_length=1, max_length=48)]
    text: Annotated[Text, StringConstraints(min_length=1, max_length=200)]
