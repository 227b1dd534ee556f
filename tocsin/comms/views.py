"""Stakeholder updates in the web UI: the section on the incident page, the compose page
(where a refused update comes back with its text), and the admins' channel list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tocsin.auth.models import User
from tocsin.auth.permissions import Role, has_role, require_admin
from tocsin.comms import deliveries, room, service, state_document
from tocsin.comms.requests import base_url_of, cadence_of
from tocsin.comms.schemas import ChannelCreate, ChannelEdit, MessagePost, StateSave, UpdatePost
from tocsin.deps import CurrentUser, DbSession, IdPath, KeyPath
from tocsin.errors import TocsinError
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentUpdate
from tocsin.schemas import REMARK_LIMIT
from tocsin.statuspage.workflow import COMPONENT_LABEL, INCIDENT_LABEL, ComponentStatus
from tocsin.web.forms import FormBody, parse, text
from tocsin.web.page_sections import add_section
from tocsin.web.templating import act_and_return, redirect, render

router = APIRouter(include_in_schema=False)

CHANNELS_PAGE = "/admin/stakeholder-channels"
ROOM_PAGE_MESSAGES = 200
COMPONENT_CHOICES = [
    (status.value, COMPONENT_LABEL[status])
    for status in ComponentStatus
    if status is not ComponentStatus.UNDER_MAINTENANCE
]


def _incident_page(key: str) -> str:
    return f"/incidents/{key}"


def _form_context(
    request: Request,
    session: Session,
    user: User,
    incident: Incident,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The prefilled form: everything ticked that the last update went to, else nothing."""
    draft = service.draft(session, user, incident.key, cadence_of(request), base_url_of(request))
    _incident, sent = service.updates_of(session, user, incident.key)
    if values is None:
        chosen: set[str] = set()
        if sent:
            last = sent[0].audiences
            chosen |= {f"channel:{c['id']}" for c in last.get("channels", [])}
            chosen |= {f"page:{p['id']}" for p in last.get("pages", [])}
        values = {"body": draft.body, "public_body": draft.public_body, "chosen": chosen}
    return {
        "draft": draft,
        "form": values,
        "page_statuses": list(INCIDENT_LABEL.items()),
        "component_statuses": COMPONENT_CHOICES,
        "updates_sent": len(sent),
        "is_admin": user.is_admin,
    }


def incident_section(
    request: Request, session: Session, user: User, incident: Incident
) -> dict[str, Any]:
    """What the incident page shows: when the next update is due and, to those who send
    updates, the prefilled form."""
    cadence = cadence_of(request)
    context: dict[str, Any] = {
        "next_update_due": service.next_update_due(session, incident, cadence),
        "update_cadence": cadence.every(incident.severity),
        "stakeholder": None,
        "update_deliveries": _update_deliveries(session, user, incident),
    }
    ended = incident.status in ("closed", "cancelled")
    if (
        has_role(user, Role.RESPONDER)
        and service.may_post(user, incident)
        # An ended incident tells those it told before that it is over; it starts nothing.
        and not (ended and service.count_updates(session, incident.id) == 0)
    ):
        context["stakeholder"] = _form_context(request, session, user, incident)
        over = incident.status not in ("open", "fixing")
        context["still_showing"] = service.pages_still_showing(session, incident) if over else []
    return context


def _update_deliveries(
    session: Session, user: User, incident: Incident, shown: int = 5
) -> list[tuple[int, list[deliveries.ChannelDelivery]]]:
    """The newest updates that went to channels, by number, each with how it got there."""
    _incident, sent = service.updates_of(session, user, incident.key)
    with_channels = [(len(sent) - i, u) for i, u in enumerate(sent) if u.audiences.get("channels")]
    delivered = deliveries.of_updates(session, [u for _n, u in with_channels[:shown]])
    return [(n, delivered[u.id]) for n, u in with_channels[:shown] if delivered.get(u.id)]


add_section("incident", incident_section)


def _chosen(form: FormData) -> tuple[set[str], dict[str, list[str]]]:
    chosen = {v for v in form.getlist("audience") if isinstance(v, str)}
    split: dict[str, list[str]] = {"channel_ids": [], "page_ids": []}
    for value in sorted(chosen):
        kind, _, number = value.partition(":")
        if kind in ("channel", "page"):
            split[f"{kind}_ids"].append(number)
    return chosen, split


@router.get("/incidents/{key}/updates/new", response_class=HTMLResponse)
def compose_page(key: KeyPath, request: Request, user: CurrentUser, session: DbSession) -> Response:
    incident = service.draft(session, user, key, cadence_of(request)).incident
    context = {"incident": incident, "error": None}
    context |= _form_context(request, session, user, incident)
    return render(request, "comms/compose.html", context)


@router.post("/incidents/{key}/updates")
def send_update(
    key: KeyPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    chosen, split = _chosen(form)
    values = {"body": text(form, "body"), "public_body": text(form, "public_body")}
    status = {
        name: text(form, name) for name in ("page_status", "component_status") if text(form, name)
    }
    try:
        data = parse(UpdatePost, {**split, **values, **status})
        update = service.post_update(
            session, user, key, data, cadence_of(request), base_url_of(request)
        )
    except TocsinError as refused:
        session.rollback()
        draft = service.draft(session, user, key, cadence_of(request))
        context = {"incident": draft.incident, "error": refused}
        context |= _form_context(
            request, session, user, draft.incident, {**values, **status, "chosen": chosen}
        )
        return render(request, "comms/compose.html", context, status_code=refused.status_code)
    key = service.incident_key_of(session, update)
    return redirect(_incident_page(key), "ok|The stakeholder update is sent.")


# ---------------------------------------------------------------- channels (admins)


@router.get(CHANNELS_PAGE, response_class=HTMLResponse)
def channels_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    require_admin(user, "manage stakeholder channels")
    context = {
        "channels": service.list_channels(session),
        "kind_of": service.channel_kind,
        "form": {},
        "error": None,
        "editing": None,
    }
    return render(request, "comms/channels.html", context)


@router.post(CHANNELS_PAGE)
def create_channel(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {"name": text(form, "name"), "url": text(form, "url")}
    try:
        channel = service.create_channel(session, user, parse(ChannelCreate, values))
    except TocsinError as refused:
        session.rollback()
        context = {
            "channels": service.list_channels(session),
            "kind_of": service.channel_kind,
            "form": values,
            "error": refused,
            "editing": None,
        }
        return render(request, "comms/channels.html", context, status_code=refused.status_code)
    return redirect(CHANNELS_PAGE, f"ok|{channel.name} is added.")


@router.post(CHANNELS_PAGE + "/{channel_id}")
def edit_channel(
    channel_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    """The URL field starts empty: left so, the stored URL (and its token) stays."""
    values = {"name": text(form, "name"), "url": text(form, "url")}
    try:
        channel = service.edit_channel(session, user, channel_id, parse(ChannelEdit, values))
    except TocsinError as refused:
        return redirect(CHANNELS_PAGE, f"error|{refused.message}")
    return redirect(CHANNELS_PAGE, f"ok|{channel.name} is saved.")


@router.post(CHANNELS_PAGE + "/{channel_id}/delete")
def delete_channel(channel_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    try:
        service.delete_channel(session, user, channel_id)
    except TocsinError as refused:
        return redirect(CHANNELS_PAGE, f"error|{refused.message}")
    return redirect(CHANNELS_PAGE, "ok|The channel is removed.")


# ---------------------------------------------------------------- the incident room


def _room_page(key: str) -> str:
    return f"/incidents/{key}/room"


def room_section(
    request: Request, session: Session, user: User, incident: Incident
) -> dict[str, Any]:
    """The way into the room from the incident page: how many messages, and the video call."""
    return {"room": room.summary(session, incident)}


add_section("incident", room_section)


@router.get("/incidents/{key}/room", response_class=HTMLResponse)
def room_page(key: KeyPath, request: Request, user: CurrentUser, session: DbSession) -> Response:
    incident, found = room.messages(session, user, key, limit=ROOM_PAGE_MESSAGES)
    context = {
        "incident": incident,
        "messages": found,
        # Only a full page can have left earlier messages out.
        "earlier": room.summary(session, incident).count - len(found)
        if len(found) == ROOM_PAGE_MESSAGES
        else 0,
        "can_talk": has_role(user, Role.RESPONDER),
    }
    return render(request, "comms/room.html", context)


@router.post("/incidents/{key}/room")
def say(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    """Without script the form posts here; with it, the page talks to the API."""
    said = text(form, "body")
    if not said.strip():
        return redirect(_room_page(key), "error|Write something first.")
    if len(said.strip()) > REMARK_LIMIT:
        return redirect(_room_page(key), f"error|A message is at most {REMARK_LIMIT:,} characters.")
    try:
        incident, message = room.post_message(
            session, user, key, parse(MessagePost, {"body": said})
        )
    except TocsinError as refused:
        return redirect(_room_page(key), f"error|{refused.message}")
    return redirect(f"{_room_page(incident.key)}#message-{message.id}")


@router.post("/incidents/{key}/room/messages/{message_id}/timeline")
def keep_on_timeline(
    key: KeyPath, message_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        room.keep_on_timeline(session, user, key, message_id)
        return "Added to the timeline."

    return act_and_return(_room_page(key), act)


@router.post("/incidents/{key}/room/video")
def set_video_call(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        change = parse(IncidentUpdate, {"video_url": text(form, "video_url")})
        incident = incidents.update_incident(session, user, key, change)
        return (
            "The video call link is saved."
            if incident.video_url
            else "The video call link is removed."
        )

    return act_and_return(_room_page(key), act)


# ---------------------------------------------------------------- the state document


def state_section(
    request: Request, session: Session, user: User, incident: Incident
) -> dict[str, Any]:
    """The incident page shows the state document under the description."""
    return {"state": state_document.state_of(session, user, incident.key)}


add_section("incident", state_section)


def _state_page(
    request: Request,
    session: Session,
    user: User,
    key: str,
    *,
    typed: str | None = None,
    refused: TocsinError | None = None,
) -> Response:
    document = state_document.state_of(session, user, key)
    context = {
        "incident": document.incident,
        "state": document,
        "text": typed if typed is not None else (document.body or state_document.OUTLINE),
        "revisions": state_document.revisions(session, user, key),
        "can_edit": has_role(user, Role.RESPONDER),
    }
    if refused is not None:
        context["flash"] = ("error", refused.message)
    status = refused.status_code if refused is not None else 200
    return render(request, "comms/state.html", context, status_code=status)


@router.get("/incidents/{key}/state", response_class=HTMLResponse)
def state_page(key: KeyPath, request: Request, user: CurrentUser, session: DbSession) -> Response:
    return _state_page(request, session, user, key)


@router.post("/incidents/{key}/state")
def save_state(
    key: KeyPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    """A refused save comes back with the text as typed, beside the newer version."""
    typed = text(form, "body")
    try:
        data = parse(StateSave, {"body": typed, "base_version": text(form, "base_version")})
        saved = state_document.save(session, user, key, data)
    except TocsinError as refused:
        session.rollback()
        return _state_page(request, session, user, key, typed=typed, refused=refused)
    return redirect(
        f"{_incident_page(saved.incident.key)}#state",
        f"ok|State document saved (version {saved.version}).",
    )
