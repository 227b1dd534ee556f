"""Bodies for incidents, their workflow, roles and timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from tocsin.auth.schemas import UserRef
from tocsin.catalogue.schemas import ProductRef, ServiceRef
from tocsin.incidents.workflow import Severity, Status
from tocsin.schemas import (
    Flag,
    Id,
    Input,
    Moment,
    Output,
    QueryId,
    SearchText,
    Text,
    Title,
    WebAddress,
)

Ids = Annotated[list[Id], Field(max_length=100)]


class IncidentCreate(Input):
    summary: Title
    severity: Severity
    description: Text = Field(
        default="", description="Customer impact, reporter contact, what is known."
    )
    service_id: Id | None = Field(
        default=None, description="The faulty service; null when unknown."
    )
    product_ids: Ids = Field(default_factory=list)
    restricted: Flag = Field(
        default=False,
        description="Visible only to participants and admins (e.g. a security breach).",
    )
    impact_started_at: Moment | None = None
    detected_at: Moment | None = None
    video_url: WebAddress = Field(
        default="", description="Where the incident room meets by video (Meet, Zoom, Jitsi)."
    )
    page_on_call: Flag = Field(
        default=True, description="Page the on-call of the faulty service (when one is named)."
    )


class IncidentUpdate(Input):
    """Only the fields present change; each change is its own timeline event."""

    summary: Title | None = None
    description: Text | None = None
    severity: Severity | None = None
    service_id: Id | None = None
    product_ids: Ids | None = None
    restricted: Flag | None = None
    impact_started_at: Moment | None = None
    detected_at: Moment | None = None
    video_url: WebAddress | None = Field(default=None, description="Empty removes the link.")


class StatusChange(Input):
    status: Status
    resolution_summary: Text = Field(default="", description="Required when resolving.")
    reason: Text = Field(default="", description="Required when cancelling.")


class RolesChange(Input):
    tech_lead_ids: Ids | None = None
    communications_manager_id: Id | None = None


class HandoverRequest(Input):
    to_user_id: Id
    note: Text = ""


class ParticipantAdd(Input):
    user_id: Id


class NoteCreate(Input):
    text: Annotated[Text, Field(min_length=1)]
    starred: Flag = False


class StarChange(Input):
    starred: Flag


class IncidentOut(Output):
    id: int
    key: str
    number: int
    summary: str
    description: str
    severity: Severity
    is_major: bool
    status: Status
    restricted: bool
    service: ServiceRef | None
    products: list[ProductRef]
    incident_manager: UserRef | None
    tech_leads: list[UserRef]
    communications_manager: UserRef | None
    reporter: UserRef | None
    handover_to: UserRef | None
    resolution_summary: str
    cancel_reason: str
    video_url: str
    impact_started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime
    allowed_transitions: list[Status]


class TimelineEventOut(Output):
    id: int
    at: datetime
    kind: str
    message: str
    actor: UserRef | None
    data: dict[str, Any]
    starred: bool


class IncidentFilters(Input):
    """List filters, shared by the API's query string and the web list."""

    status: list[Status] = Field(default_factory=list, max_length=5)
    severity: list[Severity] = Field(default_factory=list, max_length=3)
    service_id: QueryId | None = None
    incident_manager_id: QueryId | None = None
    q: SearchText = Field(default="", description="Text in key, summary or description.")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="next_cursor from the previous page."
    )
