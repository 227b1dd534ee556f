"""REST routes for postmortems: the list, one incident's postmortem, its versions and moves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from tocsin.deps import CurrentUser, DbSession, KeyPath
from tocsin.postmortems import service
from tocsin.postmortems.models import Postmortem
from tocsin.postmortems.schemas import (
    FindingDismiss,
    FindingOut,
    OwnerChange,
    PostmortemCreate,
    PostmortemFilters,
    PostmortemListItem,
    PostmortemOut,
    PostmortemSave,
    RevisionOut,
    StatusMove,
)
from tocsin.postmortems.workflow import Status, allowed_moves

router = APIRouter(tags=["postmortems"])


def postmortem_out(view: service.PostmortemView) -> PostmortemOut:
    """Shared with the CLI's --json: the postmortem and the version shown."""
    p, r = view.postmortem, view.revision
    return PostmortemOut(
        incident_key=p.incident.key,
        incident_summary=p.incident.summary,
        severity=p.incident.severity,
        restricted=p.incident.restricted,
        status=Status(p.status),
        allowed_moves=list(allowed_moves(Status(p.status))),
        owner=p.owner,
        due_at=p.due_at,
        overdue=service.is_overdue(p),
        version=r.version,
        published_version=p.published_version,
        category=p.category,
        review_comment=p.review_comment,
        review_requested_by=p.review_requested_by,
        approved_by=p.approved_by,
        approved_at=p.approved_at,
        published_at=p.published_at,
        created_at=p.created_at,
        saved_by=r.saved_by,
        saved_at=r.saved_at,
        document=r.document,
    )


def list_item(p: Postmortem) -> PostmortemListItem:
    service_row = p.incident.service
    return PostmortemListItem(
        incident_key=p.incident.key,
        title=p.incident.summary,
        severity=p.incident.severity,
        status=Status(p.status),
        owner=p.owner,
        due_at=p.due_at,
        category=p.category,
        service=service_row.name if service_row else None,
        team=service_row.team.name if service_row and service_row.team else None,
        published_at=p.published_at,
    )


@router.get("/postmortems", response_model=list[PostmortemListItem])
def list_postmortems(
    filters: Annotated[PostmortemFilters, Query()], user: CurrentUser, session: DbSession
) -> object:
    """Newest first; filter by status, service, team, root cause category, month published."""
    return [list_item(p) for p in service.list_postmortems(session, user, filters)]


@router.get("/incidents/{key}/postmortem", response_model=PostmortemOut)
def get_postmortem(
    key: KeyPath,
    user: CurrentUser,
    session: DbSession,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> object:
    """The newest version, or `?version=N`."""
    return postmortem_out(service.get_postmortem(session, user, key, version))


@router.post("/incidents/{key}/postmortem", response_model=PostmortemOut, status_code=201)
def start_postmortem(
    key: KeyPath, user: CurrentUser, session: DbSession, body: PostmortemCreate | None = None
) -> object:
    """A postmortem for an incident that did not get one on resolving (409 if it has one)."""
    owner_id = body.owner_id if body else None
    return postmortem_out(service.request_postmortem(session, user, key, owner_id))


@router.patch("/incidents/{key}/postmortem", response_model=PostmortemOut)
def save_postmortem(
    key: KeyPath, body: PostmortemSave, user: CurrentUser, session: DbSession
) -> object:
    """Saves the sections given as a new version; 409 when someone changed them since
    `base_version`, or when the postmortem is past draft (with the allowed moves)."""
    return postmortem_out(service.save(session, user, key, body))


@router.post("/incidents/{key}/postmortem/status", response_model=PostmortemOut)
def move_postmortem(
    key: KeyPath, body: StatusMove, user: CurrentUser, session: DbSession
) -> object:
    """draft -> in_review -> approved -> published; in_review -> draft with a comment;
    approved or published -> draft to amend. 409 names the allowed moves."""
    return postmortem_out(service.move(session, user, key, body))


@router.put("/incidents/{key}/postmortem/owner", response_model=PostmortemOut)
def hand_on(key: KeyPath, body: OwnerChange, user: CurrentUser, session: DbSession) -> object:
    """A new owner, who is told through their contact methods."""
    return postmortem_out(service.reassign(session, user, key, body.owner_id))


@router.get("/incidents/{key}/postmortem/versions", response_model=list[RevisionOut])
def versions(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """Every saved version, newest first, with the sections each changed."""
    return service.revisions(session, user, key)


class MarkdownResponse(PlainTextResponse):
    """Markdown text, documented as such in /openapi.json (not as text/plain)."""

    media_type = "text/markdown"


@router.get("/incidents/{key}/postmortem.md", response_class=MarkdownResponse)
def export_markdown(
    key: KeyPath,
    user: CurrentUser,
    session: DbSession,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> MarkdownResponse:
    """The postmortem as Markdown."""
    text = service.markdown_of(session, user, key, version)
    return MarkdownResponse(text)


def _finding_out(advice: service.Advice) -> FindingOut:
    f, d = advice.finding, advice.dismissal
    return FindingOut(
        section=advice.section,
        start=f.start,
        end=f.end,
        text=f.text,
        kind=f.kind,
        suggestion=f.suggestion,
        dismissed_by=d.dismissed_by if d else None,
        dismissed_at=d.dismissed_at if d else None,
    )


@router.get("/incidents/{key}/postmortem/findings", response_model=list[FindingOut])
def findings(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """The blameless check on the newest version: names of people and blame phrasing, each
    with its section, exact span, a suggestion, and who dismissed it. Advice, never refused."""
    return [_finding_out(a) for a in service.findings_of(session, user, key)]


@router.post("/incidents/{key}/postmortem/findings/dismiss", response_model=FindingOut)
def dismiss(key: KeyPath, body: FindingDismiss, user: CurrentUser, session: DbSession) -> object:
    """Keeps the words a finding points at; the reviewer sees who dismissed it."""
    return _finding_out(service.dismiss_finding(session, user, key, body.section, body.text))
