"""REST routes for stakeholder updates from an incident, and the channels they go to."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tocsin.comms import service
from tocsin.comms.models import StakeholderChannel, StakeholderUpdate
from tocsin.comms.requests import base_url_of, cadence_of
from tocsin.comms.schemas import ChannelCreate, ChannelOut, DraftOut, UpdateOut, UpdatePost
from tocsin.deps import CurrentUser, DbSession, IdPath, KeyPath

router = APIRouter(tags=["stakeholder updates"])


def _update_out(update: StakeholderUpdate, key: str) -> UpdateOut:
    return UpdateOut(
        id=update.id,
        incident_key=key,
        author=update.author,
        audiences=update.audiences,
        body=update.body,
        public_body=update.public_body,
        sent_at=update.sent_at,
    )


def _channel_out(channel: StakeholderChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=service.channel_kind(channel),
        created_at=channel.created_at,
    )


@router.get("/incidents/{key}/updates", response_model=list[UpdateOut])
def list_updates(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """Stakeholder updates sent for the incident, newest first."""
    incident, updates = service.updates_of(session, user, key)
    return [_update_out(u, incident.key) for u in updates]


@router.get("/incidents/{key}/updates/draft", response_model=DraftOut)
def get_draft(key: KeyPath, request: Request, user: CurrentUser, session: DbSession) -> object:
    """The next update filled from the incident (first or follow-up), to edit and send."""
    draft = service.draft(session, user, key, cadence_of(request), base_url_of(request))
    return DraftOut(
        incident_key=draft.incident.key,
        title=draft.title,
        body=draft.body,
        public_body=draft.public_body,
        audiences=[{"kind": a.kind, "id": a.id, "name": a.name} for a in draft.audiences],
        next_update_due_at=draft.next_update_due_at,
    )


@router.post("/incidents/{key}/updates", response_model=UpdateOut, status_code=201)
def post_update(
    key: KeyPath, body: UpdatePost, request: Request, user: CurrentUser, session: DbSession
) -> object:
    """Sends an update to stakeholder channels and status pages (private ones get `body`,
    public ones `public_body`); the communications manager, incident manager or an admin."""
    update = service.post_update(session, user, key, body, cadence_of(request))
    return _update_out(update, service.incident_key_of(session, update))


@router.get("/stakeholder-channels", response_model=list[ChannelOut])
def list_channels(user: CurrentUser, session: DbSession) -> object:
    return [_channel_out(c) for c in service.list_channels(session)]


@router.post("/stakeholder-channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelCreate, user: CurrentUser, session: DbSession) -> object:
    """Admins only: a place internal updates go, as an Apprise URL (never shown back)."""
    return _channel_out(service.create_channel(session, user, body))


@router.delete("/stakeholder-channels/{channel_id}", status_code=204)
def delete_channel(channel_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_channel(session, user, channel_id)
    return Response(status_code=204)
