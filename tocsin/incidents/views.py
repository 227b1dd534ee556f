"""Incident pages: the list, the declare form, and the incident page with its actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.auth.permissions import Role, has_role
from tocsin.catalogue import service as catalogue
from tocsin.deps import CurrentUser, DbSession, IdPath, KeyPath
from tocsin.errors import TocsinError
from tocsin.incidents import service
from tocsin.incidents.schemas import (
    HandoverRequest,
    IncidentCreate,
    IncidentFilters,
    IncidentUpdate,
    ParticipantAdd,
    RolesChange,
    StatusChange,
)
from tocsin.incidents.workflow import (
    ENDED_STATUSES,
    SEVERITY_HELP,
    Severity,
    Status,
    action_label,
    explanation_needed,
)
from tocsin.oncall import service as oncall
from tocsin.paging import service as paging
from tocsin.paging.schemas import PageRequest
from tocsin.web.forms import FormBody, ids, local_datetime, optional_id, parse, text
from tocsin.web.page_sections import context_for
from tocsin.web.templating import act_and_return, local_input_value, redirect, render

router = APIRouter(include_in_schema=False)

# "active" in the status filter stands for both statuses someone is working in.
ACTIVE = "active"
ACTIVE_STATUSES = (Status.OPEN.value, Status.FIXING.value)

# Quick filters above the list: one tap to what matters at 3 a.m.
TABS: tuple[tuple[str, dict[str, str]], ...] = (
    ("Active", {"status": ACTIVE}),
    ("Mine", {"status": ACTIVE, "mine": "1"}),
    ("Resolved", {"status": Status.RESOLVED.value}),
    ("All", {}),
)

# The move that carries an active incident forward is the prominent button. Closing
# is not: it comes later, after the follow-up, and it is final.
FORWARD = {(Status.OPEN, Status.FIXING), (Status.FIXING, Status.RESOLVED)}


def _page_of(key: str) -> str:
    return f"/incidents/{key}"


def _statuses(values: list[str]) -> list[str]:
    chosen: list[str] = []
    for value in values:
        for status in ACTIVE_STATUSES if value == ACTIVE else (value,):
            if status not in chosen:
                chosen.append(status)
    return chosen


@router.get("/incidents", response_class=HTMLResponse)
def list_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    params = request.query_params
    raw_status = [s for s in params.getlist("status") if s]
    values: dict[str, Any] = {
        "status": _statuses(raw_status),
        "severity": [s for s in params.getlist("severity") if s],
        "service_id": params.get("service_id") or None,
        "q": params.get("q", ""),
        "cursor": params.get("cursor") or None,
    }
    mine = bool(params.get("mine"))
    if mine:
        values["incident_manager_id"] = user.id
    filters = parse(IncidentFilters, values)
    incidents, next_cursor = service.list_incidents(session, user, filters)
    query = request.url.include_query_params(cursor=next_cursor).query if next_cursor else ""
    chosen = {k: v for k, v in params.multi_items() if k != "cursor" and v}
    tabs = [
        {
            "label": label,
            "url": "/incidents" + (f"?{urlencode(wanted)}" if wanted else ""),
            "current": chosen == wanted,
        }
        for label, wanted in TABS
    ]
    context = {
        "incidents": incidents,
        "filters": filters,
        "status_value": raw_status[0] if len(raw_status) == 1 else "",
        "mine": mine,
        "tabs": tabs,
        "filtered": bool(chosen),
        "next_url": f"/incidents?{query}" if next_cursor else None,
        "services": catalogue.list_services(session),
        "statuses": list(Status),
        "severities": list(Severity),
        "can_declare": has_role(user, Role.RESPONDER),
    }
    return render(request, "incidents/list.html", context)


def _declare_context(session: Any, **extra: Any) -> dict[str, Any]:
    return {
        "services": catalogue.list_services(session),
        "products": catalogue.list_products(session),
        "severity_help": SEVERITY_HELP,
        "form": {},
        "error": None,
        **extra,
    }


@router.get("/incidents/new", response_class=HTMLResponse)
def declare_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    return render(request, "incidents/new.html", _declare_context(session))


@router.post("/incidents/new")
def declare(request: Request, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {
        "summary": text(form, "summary"),
        "severity": text(form, "severity"),
        "description": text(form, "description"),
        "service_id": optional_id(form, "service_id"),
        "product_ids": ids(form, "product_ids"),
        "restricted": text(form, "restricted") == "on",
    }
    try:
        incident = service.declare_incident(session, user, parse(IncidentCreate, values))
    except TocsinError as refused:
        session.rollback()  # ends the refused transaction (and its write lock) before re-reading
        context = _declare_context(session, form=values, error=refused)
        return render(request, "incidents/new.html", context, status_code=refused.status_code)
    return redirect(_page_of(incident.key), _declared_message(incident))


def _declared_message(incident: Any) -> str:
    """Says who is being woken, so a declarer who knew no service knows to page someone."""
    declared = f"{incident.key} is declared. You are its incident manager."
    if incident.service is None:
        return f"info|{declared} Nobody was paged: no faulty service was chosen. Page people below."
    return f"ok|{declared} The on-call of {incident.service.name} is being paged."


@router.get("/incidents/{key}", response_class=HTMLResponse)
def incident_page(
    key: KeyPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    incident = service.get_incident(session, user, key)
    can_act = has_role(user, Role.RESPONDER)
    current = Status(incident.status)
    transitions = [
        {
            "to": target,
            "label": action_label(current, target),
            "needs": explanation_needed(target),
            "style": "primary"
            if (current, target) in FORWARD
            else ("danger" if target is Status.CANCELLED else ""),
        }
        for target in incident.allowed_transitions
    ]
    starred_only = request.query_params.get("starred") == "1"
    responders = [u for u in auth.list_users(session) if u.role != Role.VIEWER.value]
    pages = service.pages_of(session, user, key)
    context = {
        "incident": incident,
        "timeline": service.timeline_of(session, user, key, starred_only=starred_only),
        "starred_only": starred_only,
        "participants": service.participants(session, user, key),
        "transitions": transitions if can_act else [],
        "can_act": can_act,
        "is_manager": can_act and (user.id == incident.incident_manager_id or user.is_admin),
        # Closed or cancelled: no paging, roles, handover or publishing is offered.
        "ended": current in ENDED_STATUSES,
        "users": responders,
        "all_users": auth.list_users(session),
        "services": catalogue.list_services(session),
        "products": catalogue.list_products(session),
        "severities": list(Severity),
        "severity_help": SEVERITY_HELP,
        "pages": pages,
        "page_facts": paging.facts_of_pages(session, pages),
        "nobody_paged": paging.nobody_paged(session, pages),
        "service_has_policy": incident.service_id is None
        or oncall.policy_of_service(session, incident.service_id) is not None,
        "teams": auth.list_teams(session),
        "impact_started_value": local_input_value(request, incident.impact_started_at),
        "detected_value": local_input_value(request, incident.detected_at),
    }
    context |= context_for("incident", request, session, user, incident)
    return render(request, "incidents/show.html", context)


def _act(key: str, form: FormData, action: Any) -> Response:
    """Runs one form action and returns to the incident page with what happened."""
    return act_and_return(_page_of(key), lambda: action(form))


@router.post("/incidents/{key}/status")
def change_status(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act(form: FormData) -> str:
        change = parse(
            StatusChange,
            {
                "status": text(form, "status"),
                "resolution_summary": text(form, "resolution_summary"),
                "reason": text(form, "reason"),
            },
        )
        incident = service.change_status(session, user, key, change)
        return f"{incident.key} is now {incident.status}."

    return _act(key, form, act)


@router.post("/incidents/{key}/edit")
def edit(
    key: KeyPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(form: FormData) -> str:
        values: dict[str, Any] = {
            "summary": text(form, "summary"),
            "description": text(form, "description"),
            "severity": text(form, "severity"),
            "service_id": optional_id(form, "service_id"),
            "product_ids": ids(form, "product_ids"),
        }
        # The inputs show minutes only: send a time only when someone changed it, so
        # saving the summary does not "correct" the impact start by its seconds.
        incident = service.get_incident(session, user, key)
        for name in ("impact_started_at", "detected_at"):
            shown = local_input_value(request, getattr(incident, name))
            if text(form, name).strip() not in ("", shown):
                values[name] = local_datetime(form, name, user.time_zone)
        if "restricted_present" in form:
            values["restricted"] = text(form, "restricted") == "on"
        if "video_url" in form:
            values["video_url"] = text(form, "video_url")
        service.update_incident(session, user, key, parse(IncidentUpdate, values))
        return "Saved."

    return _act(key, form, act)


@router.post("/incidents/{key}/roles")
def set_roles(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act(form: FormData) -> str:
        change = parse(
            RolesChange,
            {
                "tech_lead_ids": ids(form, "tech_lead_ids"),
                "communications_manager_id": optional_id(form, "communications_manager_id"),
            },
        )
        service.set_roles(session, user, key, change)
        return "Roles saved."

    return _act(key, form, act)


@router.post("/incidents/{key}/handover")
def request_handover(
    request: Request, key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(form: FormData) -> str:
        body = parse(
            HandoverRequest,
            {"to_user_id": optional_id(form, "to_user_id"), "note": text(form, "note")},
        )
        base_url = request.app.state.settings.base_url
        incident = service.request_handover(
            session, user, key, body.to_user_id, body.note, base_url
        )
        return (
            f"Asked {incident.handover_to.name} to take over. You stay in charge until they accept."
        )

    return _act(key, form, act)


@router.post("/incidents/{key}/page")
def page_someone(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act(form: FormData) -> str:
        chosen = [
            {"kind": kind, "id": value}
            for field, kind in (
                ("user_ids", "user"),
                ("team_ids", "team"),
                ("service_ids", "service"),
            )
            for value in ids(form, field)
        ]
        request = parse(PageRequest, {"targets": chosen, "message": text(form, "message")})
        service.page_responders(
            session, user, key, [t.model_dump() for t in request.targets], request.message
        )
        return "Paging started."

    return _act(key, form, act)


@router.post("/incidents/{key}/pages/{page_id}/escalate")
def escalate(
    key: KeyPath, page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(_form: FormData) -> str:
        service.escalate_page(session, user, key, page_id)
        return "The next level is paged now."

    return _act(key, form, act)


@router.post("/incidents/{key}/take-command")
def take_command(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act(_form: FormData) -> str:
        service.take_command(session, user, key)
        return "You are now the incident manager."

    return _act(key, form, act)


@router.post("/incidents/{key}/handover/accept")
def accept_handover(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(_form: FormData) -> str:
        service.accept_handover(session, user, key)
        return "You are now the incident manager."

    return _act(key, form, act)


@router.post("/incidents/{key}/handover/decline")
def decline_handover(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(_form: FormData) -> str:
        service.decline_handover(session, user, key)
        return "You declined the handover."

    return _act(key, form, act)


@router.post("/incidents/{key}/handover/cancel")
def cancel_handover(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(_form: FormData) -> str:
        service.cancel_handover(session, user, key)
        return "Handover withdrawn; you stay in charge."

    return _act(key, form, act)


@router.post("/incidents/{key}/participants")
def add_participant(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(form: FormData) -> str:
        chosen = parse(ParticipantAdd, {"user_id": optional_id(form, "user_id")})
        service.add_participant(session, user, key, chosen.user_id)
        added: User = auth.get_user(session, chosen.user_id)
        return f"{added.name} is now a participant."

    return _act(key, form, act)


@router.post("/incidents/{key}/notes")
def add_note(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act(form: FormData) -> str:
        starred = text(form, "starred") == "on"
        service.add_note(session, user, key, text(form, "text")[:20_000], starred)
        return "Note added, starred as important." if starred else "Note added."

    return _act(key, form, act)


@router.post("/incidents/{key}/timeline/{event_id}/star")
def star(
    key: KeyPath, event_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act(form: FormData) -> str:
        starred = text(form, "starred") == "true"
        service.star_event(session, user, key, event_id, starred)
        return "Starred as important." if starred else "Star removed."

    return _act(key, form, act)
