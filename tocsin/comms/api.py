"""REST routes for stakeholder updates from an incident, and the channels they go to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tocsin.comms import deliveries, room, service, state_document
from tocsin.comms.models import RoomMessage, StakeholderChannel, StakeholderUpdate
from tocsin.comms.requests import base_url_of, cadence_of
from tocsin.comms.schemas import (
    ChannelCreate,
    ChannelDeliveryOut,
    ChannelEdit,
    ChannelOut,
    DraftOut,
    MessageOut,
    MessagePost,
    MessageQuery,
    StateOut,
    StateSave,
    UpdateOut,
    UpdatePost,
)
from tocsin.deps import CurrentUser, DbSession, IdPath, KeyPath
from tocsin.incidents.schemas import TimelineEventOut
from tocsin.paging.addresses import redacted

router = APIRouter(tags=["stakeholder updates"])
room_router = APIRouter(tags=["incident room"])


def _update_out(
    update: StakeholderUpdate, key: str, delivered: list[deliveries.ChannelDelivery]
) -> UpdateOut:
    return UpdateOut(
        id=update.id,
        incident_key=key,
        author=update.author,
        audiences=update.audiences,
        body=update.body,
        public_body=update.public_body,
        sent_at=update.sent_at,
        deliveries=[
            ChannelDeliveryOut(
                channel=d.channel,
                shown=d.shown,
                state=d.state,
                attempts=d.attempts,
                reason=d.reason,
                words=d.words,
            )
            for d in delivered
        ],
    )


def _channel_out(channel: StakeholderChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=service.channel_kind(channel),
        shown=redacted(channel.url),
        created_at=channel.created_at,
    )


@router.get("/incidents/{key}/updates", response_model=list[UpdateOut])
def list_updates(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """Stakeholder updates sent for the incident, newest first."""
    incident, updates = service.updates_of(session, user, key)
    delivered = deliveries.of_updates(session, updates)
    return [_update_out(u, incident.key, delivered.get(u.id, [])) for u in updates]


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
    update = service.post_update(
        session, user, key, body, cadence_of(request), base_url_of(request)
    )
    delivered = deliveries.of_updates(session, [update]).get(update.id, [])
    return _update_out(update, service.incident_key_of(session, update), delivered)


@router.get("/stakeholder-channels", response_model=list[ChannelOut])
def list_channels(user: CurrentUser, session: DbSession) -> object:
    return [_channel_out(c) for c in service.list_channels(session)]


@router.post("/stakeholder-channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelCreate, user: CurrentUser, session: DbSession) -> object:
    """Admins only: a place internal updates go, as an Apprise URL (never shown back)."""
    return _channel_out(service.create_channel(session, user, body))


@router.patch("/stakeholder-channels/{channel_id}", response_model=ChannelOut)
def edit_channel(
    channel_id: IdPath, body: ChannelEdit, user: CurrentUser, session: DbSession
) -> object:
    """Admins: a new name or URL. A URL left out, or sent back as shown, keeps the stored one."""
    return _channel_out(service.edit_channel(session, user, channel_id, body))


@router.delete("/stakeholder-channels/{channel_id}", status_code=204)
def delete_channel(channel_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_channel(session, user, channel_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- the incident room


def _message_out(message: RoomMessage, key: str) -> MessageOut:
    return MessageOut(
        id=message.id,
        incident_key=key,
        author=message.author,
        body=message.body,
        posted_at=message.posted_at,
    )


@room_router.get("/incidents/{key}/room/messages", response_model=list[MessageOut])
def list_messages(
    key: KeyPath, query: Annotated[MessageQuery, Query()], user: CurrentUser, session: DbSession
) -> object:
    """The room's messages, oldest first: the last `limit`, or those after the message `after`.

    Polling with `after` also returns the last 30 seconds again (a message may commit
    after one with a higher id): skip the ids you already have.
    """
    incident, found = room.messages(session, user, key, after=query.after, limit=query.limit)
    return [_message_out(m, incident.key) for m in found]


@room_router.post("/incidents/{key}/room/messages", response_model=MessageOut, status_code=201)
def post_message(key: KeyPath, body: MessagePost, user: CurrentUser, session: DbSession) -> object:
    """Says something in the incident room (responders); it makes you a participant."""
    incident, message = room.post_message(session, user, key, body)
    return _message_out(message, incident.key)


@room_router.post(
    "/incidents/{key}/room/messages/{message_id}/timeline",
    response_model=TimelineEventOut,
    status_code=201,
)
def keep_on_timeline(
    key: KeyPath, message_id: IdPath, user: CurrentUser, session: DbSession
) -> object:
    """Copies a message to the incident's timeline as a note, naming who said it."""
    return room.keep_on_timeline(session, user, key, message_id)


# ---------------------------------------------------------------- the state document


def _state_out(document: state_document.StateDocument) -> StateOut:
    return StateOut(
        incident_key=document.incident.key,
        version=document.version,
        body=document.body,
        saved_by=document.saved_by,
        saved_at=document.saved_at,
    )


@room_router.get("/incidents/{key}/state-document", response_model=StateOut)
def get_state_document(key: KeyPath, user: CurrentUser, session: DbSession) -> object:
    """The live state document: what is happening, the impact, who does what, next steps."""
    return _state_out(state_document.state_of(session, user, key))


@room_router.put("/incidents/{key}/state-document", response_model=StateOut)
def save_state_document(
    key: KeyPath, body: StateSave, user: CurrentUser, session: DbSession
) -> object:
    """Saves a new version (responders). Send the version you edited as `base_version`:
    if someone saved since, the answer is 409 and nothing is overwritten."""
    return _state_out(state_document.save(session, user, key, body))
