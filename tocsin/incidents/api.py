"""REST routes for incidents, their workflow, roles, handover and timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from tocsin.auth.schemas import UserRef
from tocsin.deps import CurrentUser, DbSession, IdPath, KeyPath
from tocsin.incidents import service
from tocsin.incidents.schemas import (
    HandoverRequest,
    IncidentCreate,
    IncidentFilters,
    IncidentOut,
    IncidentUpdate,
    NoteCreate,
    ParticipantAdd,
    RolesChange,
    StarChange,
    StatusChange,
    TimelineEventOut,
)
from tocsin.paging.schemas import PageOut, PageRequest
from tocsin.schemas import Page

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.get("", response_model=Page[IncidentOut])
def list_incidents(
    filters: Annotated[IncidentFilters, Query()], user: CurrentUser, session: DbSession
) -> object:
    """Newest first. Pass `next_cursor` back as `cursor` for the next page."""
    items, next_cursor = service.list_incidents(session, user, filters)
    return {"items": items, "next_cursor": next_cursor}


@router.post("", response_model=IncidentOut, status_code=201)
def declare(body: IncidentCreate, user: CurrentUser, session: DbSession) -> object:
    """Declares an incident; the reporter is its first incident manager."""
    return service.declare_incident(session, user, body)


@router.get("/{key}", response_model=IncidentOut)
def get(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_incident(session, user, key)


@router.patch("/{key}", response_model=IncidentOut)
def update(key: KeyPath, body: IncidentUpdate, user: CurrentUser, session: DbSession) -> object:
    return service.update_incident(session, user, key, body)


@router.post("/{key}/status", response_model=IncidentOut)
def change_status(
    key: KeyPath, body: StatusChange, user: CurrentUser, session: DbSession
) -> object:
    """Moves the incident through its workflow; 409 names the allowed moves."""
    return service.change_status(session, user, key, body)


@router.put("/{key}/roles", response_model=IncidentOut)
def set_roles(key: KeyPath, body: RolesChange, user: CurrentUser, session: DbSession) -> object:
    return service.set_roles(session, user, key, body)


@router.post("/{key}/take-command", response_model=IncidentOut)
def take_command(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """Takes charge of an incident without an incident manager (declared by an alert rule)."""
    return service.take_command(session, user, key)


@router.post("/{key}/handover", response_model=IncidentOut)
def request_handover(
    request: Request, key: KeyPath, body: HandoverRequest, user: CurrentUser, session: DbSession
) -> object:
    """Asks someone to take over; the current incident manager stays in charge until they accept."""
    base_url = request.app.state.settings.base_url
    return service.request_handover(session, user, key, body.to_user_id, body.note, base_url)


@router.post("/{key}/handover/accept", response_model=IncidentOut)
def accept_handover(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    return service.accept_handover(session, user, key)


@router.post("/{key}/handover/decline", response_model=IncidentOut)
def decline_handover(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    return service.decline_handover(session, user, key)


@router.post("/{key}/handover/cancel", response_model=IncidentOut)
def cancel_handover(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    return service.cancel_handover(session, user, key)


@router.get("/{key}/participants", response_model=list[UserRef])
def participants(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    return service.participants(session, user, key)


@router.post("/{key}/participants", response_model=list[UserRef])
def add_participant(
    key: KeyPath, body: ParticipantAdd, user: CurrentUser, session: DbSession
) -> object:
    service.add_participant(session, user, key, body.user_id)
    return service.participants(session, user, key)


@router.get("/{key}/timeline", response_model=list[TimelineEventOut])
def timeline(key: KeyPath, user: CurrentUser, session: DbSession, starred: bool = False) -> object:
    """Newest first."""
    return service.timeline_of(session, user, key, starred_only=starred)


@router.post("/{key}/notes", response_model=TimelineEventOut, status_code=201)
def add_note(key: KeyPath, body: NoteCreate, user: CurrentUser, session: DbSession) -> object:
    return service.add_note(session, user, key, body.text, body.starred)


@router.put("/{key}/timeline/{event_id}/star", response_model=TimelineEventOut)
def star(
    key: KeyPath, event_id: IdPath, body: StarChange, user: CurrentUser, session: DbSession
) -> object:
    return service.star_event(session, user, key, event_id, body.starred)


@router.get("/{key}/pages", response_model=list[PageOut])
def pages(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """Escalations about this incident, newest first."""
    return service.pages_of(session, user, key)


@router.post("/{key}/pages", response_model=PageOut, status_code=201)
def page_responders(
    key: KeyPath, body: PageRequest, user: CurrentUser, session: DbSession
) -> object:
    """The incident manager pages anyone: people, a team, a schedule's or a service's on-call."""
    targets = [t.model_dump() for t in body.targets]
    return service.page_responders(session, user, key, targets, body.message)


@router.post("/{key}/pages/{page_id}/escalate", response_model=PageOut)
def escalate(key: KeyPath, page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Fires the page's next level now instead of waiting for its delay."""
    return service.escalate_page(session, user, key, page_id)
