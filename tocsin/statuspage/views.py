"""Status page administration: the pages, their components, public incidents and maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.auth.permissions import Role, has_role
from tocsin.catalogue import service as catalogue
from tocsin.db import now
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import TocsinError
from tocsin.incidents import service as incidents
from tocsin.schemas import MAX_ID
from tocsin.statuspage import service, subscribers, v2, workflow
from tocsin.statuspage.models import StatusPage
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentUpdate,
    GroupCreate,
    GroupUpdate,
    MaintenanceCreate,
    MaintenanceEdit,
    MaintenanceUpdatePost,
    PageCreate,
    PageUpdate,
    PublicIncidentCreate,
    PublicIncidentEdit,
    UpdatePost,
)
from tocsin.statuspage.workflow import ComponentStatus, IncidentStatus, MaintenanceStatus
from tocsin.web.forms import FormBody, local_datetime, optional_id, parse, text
from tocsin.web.templating import act_and_return, local_input_value, redirect, render

router = APIRouter(include_in_schema=False)

COMPONENT_FIELD = "component_"
# The status an update form offers first: the usual next step.
NEXT_STATUS = {
    IncidentStatus.INVESTIGATING: IncidentStatus.IDENTIFIED,
    IncidentStatus.IDENTIFIED: IncidentStatus.MONITORING,
    IncidentStatus.MONITORING: IncidentStatus.RESOLVED,
    IncidentStatus.RESOLVED: IncidentStatus.RESOLVED,
    IncidentStatus.POSTMORTEM: IncidentStatus.POSTMORTEM,
}
NEXT_MAINTENANCE_STATUS = {
    MaintenanceStatus.SCHEDULED: MaintenanceStatus.IN_PROGRESS,
    MaintenanceStatus.IN_PROGRESS: MaintenanceStatus.VERIFYING,
    MaintenanceStatus.VERIFYING: MaintenanceStatus.COMPLETED,
    MaintenanceStatus.COMPLETED: MaintenanceStatus.COMPLETED,
}


def _admin_page(page_id: int) -> str:
    return f"/status-pages/{page_id}"


def _labels() -> dict[str, Any]:
    return {
        "component_statuses": list(ComponentStatus),
        "component_labels": {s.value: label for s, label in workflow.COMPONENT_LABEL.items()},
        "incident_statuses": list(IncidentStatus),
        "incident_labels": {s.value: label for s, label in workflow.INCIDENT_LABEL.items()},
        "impacts": list(workflow.Impact),
        "impact_labels": {s.value: label for s, label in workflow.IMPACT_LABEL.items()},
        "maintenance_labels": {s.value: label for s, label in workflow.MAINTENANCE_LABEL.items()},
    }


def _component_choices(form: FormData) -> list[dict[str, str]]:
    """`component_<id>` selects: an empty value means "not affected"."""
    chosen = []
    for name, value in form.multi_items():
        if name.startswith(COMPONENT_FIELD) and isinstance(value, str) and value.strip():
            raw_id = name.removeprefix(COMPONENT_FIELD)
            chosen.append({"component_id": raw_id, "status": value.strip()})
    return chosen


def _reworded(refused: TocsinError) -> TocsinError:
    """The forms call an update's body its message."""
    if refused.field == "body" and refused.message.startswith("Body"):
        refused.message = "Message" + refused.message.removeprefix("Body")
    return refused


def _checked(form: FormData, name: str) -> bool:
    return text(form, name) == "on"


def _indicator(session: Session, page: StatusPage) -> workflow.Indicator:
    components = service.list_components(session, page.id)
    open_incidents = service.list_incidents(session, page.id, unresolved_only=True)
    return workflow.page_indicator(
        (c.status for c in components), (i.impact for i in open_incidents)
    )


# ---------------------------------------------------------------- the list


@router.get("/status-pages", response_class=HTMLResponse)
def list_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    publish = request.query_params.get("publish", "")[:20]
    linked, publishing = [], None
    if publish:
        try:
            publishing = incidents.get_incident(session, user, publish)
        except TocsinError:
            publishing = None
        if publishing is not None and publishing.status in ("closed", "cancelled"):
            publishing = None  # an ended incident is not published anew
        if publishing is not None:
            linked = service.linked_incidents(session, publishing.id)
    context = _list_context(session, user, publishing=publishing, linked=linked)
    return render(request, "statuspage/list.html", context)


def _list_context(session: Session, user: User, **extra: Any) -> dict[str, Any]:
    pages = service.list_pages(session)
    return {
        "pages": pages,
        "indicators": {p.id: _indicator(session, p) for p in pages},
        "publishing": None,
        "linked": [],
        "page_names": {p.id: p.name for p in pages},
        "can_act": has_role(user, Role.RESPONDER),
        "form": {},
        "error": None,
        **extra,
    }


@router.post("/status-pages")
def create_page(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {
        "slug": text(form, "slug"),
        "name": text(form, "name"),
        "public": text(form, "visibility") != "private",
        "time_zone": text(form, "time_zone").strip() or "UTC",
        "url": text(form, "url"),
    }
    try:
        page = service.create_page(session, user, parse(PageCreate, values))
    except TocsinError as refused:
        # The form comes back with what was typed: only the refused field needs fixing.
        session.rollback()
        context = _list_context(session, user, form=values, error=refused)
        return render(request, "statuspage/list.html", context, refused.status_code)
    return redirect(_admin_page(page.id), f"ok|{page.name} is ready at /status/{page.slug}.")


# ---------------------------------------------------------------- one page


@router.get("/status-pages/{page_id}", response_class=HTMLResponse)
def page_admin(
    page_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    all_incidents = service.list_incidents(session, page.id, limit=30)
    maintenances = service.list_maintenances(session, page.id, limit=30)
    components = service.list_components(session, page.id)
    context = {
        "page": page,
        "indicator": _indicator(session, page),
        "groups": service.list_groups(session, page.id),
        "components": components,
        # Uptime days are the page's: its start dates and its today, not the reader's.
        "start_dates": {c.id: service.start_date_of(page, c) for c in components},
        "today": service.page_today(page, now()),
        "open_incidents": [i for i in all_incidents if workflow.is_unresolved(i.status)],
        "past_incidents": [i for i in all_incidents if not workflow.is_unresolved(i.status)],
        "open_maintenances": [m for m in maintenances if m.status != "completed"][::-1],
        "past_maintenances": [m for m in maintenances if m.status == "completed"][:10],
        "services": catalogue.list_services(session),
        "can_act": has_role(user, Role.RESPONDER),
        "is_admin": user.is_admin,
        "api_files": list(v2.DOCUMENTS),
        "subscriber_count": subscribers.count(session, page.id),
        **_labels(),
    }
    return render(request, "statuspage/show.html", context)


def _act(page_id: int, action: Any, anchor: str = "") -> Response:
    """Runs one form action and returns to the page's admin view with what happened."""
    return act_and_return(_admin_page(page_id) + anchor, action)


@router.post("/status-pages/{page_id}")
def update_page(page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        values = {
            "slug": text(form, "slug"),
            "name": text(form, "name"),
            "public": text(form, "visibility") != "private",
            "time_zone": text(form, "time_zone").strip() or "UTC",
            "url": text(form, "url"),
        }
        page = service.update_page(session, user, page_id, parse(PageUpdate, values))
        return f"{page.name} is saved."

    return _act(page_id, act, "#settings")


@router.post("/status-pages/{page_id}/delete")
def delete_page(page_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    try:
        service.delete_page(session, user, page_id)
    except TocsinError as refused:
        return redirect(_admin_page(page_id), f"error|{refused.message}")
    return redirect("/status-pages", "ok|The status page is removed.")


@router.post("/status-pages/{page_id}/groups")
def create_group(
    page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {"name": text(form, "name"), "description": text(form, "description")}
        group = service.create_group(session, user, page_id, parse(GroupCreate, values))
        return f"Group {group.name} is added."

    return _act(page_id, act, "#components")


@router.post("/status-pages/{page_id}/groups/{group_id}")
def update_group(
    page_id: IdPath, group_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "name": text(form, "name"),
            "description": text(form, "description"),
            "position": text(form, "position").strip() or None,
        }
        group = service.update_group(session, user, page_id, group_id, parse(GroupUpdate, values))
        return f"Group {group.name} is saved."

    return _act(page_id, act, "#components")


@router.post("/status-pages/{page_id}/groups/{group_id}/delete")
def delete_group(
    page_id: IdPath, group_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        service.delete_group(session, user, page_id, group_id)
        return "Group removed; its components stay on the page."

    return _act(page_id, act, "#components")


def _component_values(form: FormData) -> dict[str, Any]:
    return {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "group_id": optional_id(form, "group_id"),
        "service_id": optional_id(form, "service_id"),
        "showcase": _checked(form, "showcase"),
        "start_date": text(form, "start_date").strip() or None,
    }


@router.post("/status-pages/{page_id}/components")
def create_component(
    page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {**_component_values(form), "status": text(form, "status") or "operational"}
        component = service.create_component(session, user, page_id, parse(ComponentCreate, values))
        return f"Component {component.name} is added."

    return _act(page_id, act, "#components")


@router.post("/status-pages/{page_id}/components/{component_id}")
def update_component(
    page_id: IdPath, component_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {**_component_values(form), "position": text(form, "position").strip() or None}
        component = service.update_component(
            session, user, page_id, component_id, parse(ComponentUpdate, values)
        )
        return f"Component {component.name} is saved."

    return _act(page_id, act, "#components")


@router.post("/status-pages/{page_id}/components/{component_id}/status")
def set_component_status(
    page_id: IdPath, component_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        change = parse(ComponentUpdate, {"status": text(form, "status")})
        component = service.update_component(session, user, page_id, component_id, change)
        label = workflow.COMPONENT_LABEL[ComponentStatus(component.status)]
        return f"{component.name} is now {label.lower()}."

    return _act(page_id, act, "#components")


@router.post("/status-pages/{page_id}/components/{component_id}/delete")
def delete_component(
    page_id: IdPath, component_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        service.delete_component(session, user, page_id, component_id)
        return "Component removed."

    return _act(page_id, act, "#components")


# ---------------------------------------------------------------- public incidents


def _new_incident_context(
    session: Session, user: User, page: StatusPage, key: str, **extra: Any
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "page": page,
        "components": service.list_components(session, page.id),
        "groups": {g.id: g.name for g in service.list_groups(session, page.id)},
        "linked": None,
        "draft": None,
        "form": {"status": "investigating", "notify": True, "components": {}},
        "error": None,
        **_labels(),
    }
    if key:
        try:
            linked, draft, backed = service.draft_for(session, user, page, key)
        except TocsinError as refused:
            context["error"] = refused
        else:
            context["linked"] = linked
            context["draft"] = draft
            context["form"] = {
                "name": draft.name,
                "impact": draft.impact.value,
                "status": draft.status.value,
                "body": draft.body,
                "notify": True,
                "incident_key": linked.key,
                "components": {c.id: draft.component_status.value for c in backed},
            }
    context.update(extra)
    return context


@router.get("/status-pages/{page_id}/incidents/new", response_class=HTMLResponse)
def new_incident_page(
    page_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    key = request.query_params.get("incident", "")[:20]
    context = _new_incident_context(session, user, page, key)
    return render(request, "statuspage/incident_new.html", context)


@router.post("/status-pages/{page_id}/incidents")
def create_incident(
    page_id: IdPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)  # a missing page is a 404 before anything else
    choices = _component_choices(form)
    values = {
        "name": text(form, "name"),
        "status": text(form, "status") or "investigating",
        "impact": text(form, "impact") or None,
        "body": text(form, "body"),
        "components": choices,
        "notify": _checked(form, "notify"),
        "incident_key": text(form, "incident_key").strip() or None,
    }
    try:
        incident = service.create_incident(
            session, user, page_id, parse(PublicIncidentCreate, values)
        )
    except TocsinError as refused:
        session.rollback()  # ends the refused transaction (and its write lock) before re-reading
        shown = {**values, "components": _shown_choices(choices)}
        context = _new_incident_context(
            session, user, page, "", form=shown, error=_reworded(refused), linked=None
        )
        if values["incident_key"]:
            context["form"]["incident_key"] = values["incident_key"]
        return render(
            request, "statuspage/incident_new.html", context, status_code=refused.status_code
        )
    return redirect(
        f"/status-pages/{page_id}/incidents/{incident.id}",
        f"ok|“{incident.name}” is on the status page.",
    )


def _shown_choices(choices: list[dict[str, str]]) -> dict[int, str]:
    shown = {}
    for choice in choices:
        raw = choice["component_id"]
        if raw.isdigit() and int(raw) <= MAX_ID:
            shown[int(raw)] = choice["status"]
    return shown


@router.get("/status-pages/{page_id}/incidents/{incident_id}", response_class=HTMLResponse)
def incident_admin(
    page_id: IdPath, incident_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    incident = service.get_incident(session, page.id, incident_id)
    current = IncidentStatus(incident.status)
    proposed = NEXT_STATUS[current]
    key = service.visible_incident_key(session, user, incident)
    held = {link.component_id: link.status for link in incident.components}
    context = {
        "page": page,
        "incident": incident,
        "incident_key": key,
        "components": service.list_components(session, page.id),
        "groups": {g.id: g.name for g in service.list_groups(session, page.id)},
        "held": held,
        "proposed": proposed.value,
        # A draft per status: the form shows the proposed one; a little script swaps in
        # another when the author picks another status and has not edited the text yet.
        "drafts": {
            status.value: service.follow_up_draft(session, page, incident, status)
            for status in IncidentStatus
        }
        if key
        else {},
        "can_act": has_role(user, Role.RESPONDER),
        "is_admin": user.is_admin,
        "authors": {u.id: u.name for u in auth.list_users(session, include_inactive=True)},
        **_labels(),
    }
    return render(request, "statuspage/incident.html", context)


def _incident_act(page_id: int, incident_id: int, action: Any) -> Response:
    return act_and_return(f"/status-pages/{page_id}/incidents/{incident_id}", action)


@router.post("/status-pages/{page_id}/incidents/{incident_id}/updates")
def post_update(
    page_id: IdPath, incident_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "status": text(form, "status"),
            "body": text(form, "body"),
            "components": _component_choices(form),
            "impact": text(form, "impact") or None,
            "notify": _checked(form, "notify"),
        }
        update = service.post_update(session, user, page_id, incident_id, parse(UpdatePost, values))
        label = workflow.INCIDENT_LABEL[IncidentStatus(update.status)]
        return f"Update posted ({label.lower()}); the public page shows it now."

    return _incident_act(page_id, incident_id, act)


@router.post("/status-pages/{page_id}/incidents/{incident_id}/edit")
def edit_incident(
    page_id: IdPath, incident_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {"name": text(form, "name"), "impact": text(form, "impact") or None}
        service.edit_incident(
            session, user, page_id, incident_id, parse(PublicIncidentEdit, values)
        )
        return "Saved."

    return _incident_act(page_id, incident_id, act)


@router.post("/status-pages/{page_id}/incidents/{incident_id}/delete")
def delete_incident(
    page_id: IdPath, incident_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    try:
        service.delete_incident(session, user, page_id, incident_id)
    except TocsinError as refused:
        return redirect(
            f"/status-pages/{page_id}/incidents/{incident_id}", f"error|{refused.message}"
        )
    return redirect(_admin_page(page_id), "ok|The incident is off the status page.")


# ---------------------------------------------------------------- maintenance


def _next_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


@router.get("/status-pages/{page_id}/maintenances/new", response_class=HTMLResponse)
def new_maintenance_page(
    page_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    start = _next_hour(now()) + timedelta(days=1)
    context = {
        "page": page,
        "components": service.list_components(session, page.id),
        "groups": {g.id: g.name for g in service.list_groups(session, page.id)},
        "form": {
            "scheduled_for": local_input_value(request, start),
            "scheduled_until": local_input_value(request, start + timedelta(hours=2)),
            "automatic": True,
            "remind_subscribers": True,
            "notify": True,
            "component_ids": [],
            "body": "We will be undergoing scheduled maintenance during this time.",
        },
        "error": None,
    }
    return render(request, "statuspage/maintenance_new.html", context)


@router.post("/status-pages/{page_id}/maintenances")
def create_maintenance(
    page_id: IdPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    zone = user.time_zone
    component_ids = [v for v in form.getlist("component_ids") if isinstance(v, str) and v]
    values = {
        "name": text(form, "name"),
        "scheduled_for": local_datetime(form, "scheduled_for", zone),
        "scheduled_until": local_datetime(form, "scheduled_until", zone),
        "component_ids": component_ids,
        "body": text(form, "body"),
        "automatic": _checked(form, "automatic"),
        "remind_subscribers": _checked(form, "remind_subscribers"),
        "notify": _checked(form, "notify"),
    }
    try:
        maintenance = service.create_maintenance(
            session, user, page_id, parse(MaintenanceCreate, values)
        )
    except TocsinError as refused:
        session.rollback()
        shown = {
            **values,
            "scheduled_for": text(form, "scheduled_for"),
            "scheduled_until": text(form, "scheduled_until"),
        }
        context = {
            "page": page,
            "components": service.list_components(session, page.id),
            "groups": {g.id: g.name for g in service.list_groups(session, page.id)},
            "form": shown,
            "error": _reworded(refused),
        }
        return render(
            request, "statuspage/maintenance_new.html", context, status_code=refused.status_code
        )
    return redirect(
        f"/status-pages/{page_id}/maintenances/{maintenance.id}",
        f"ok|“{maintenance.name}” is scheduled.",
    )


@router.get("/status-pages/{page_id}/maintenances/{maintenance_id}", response_class=HTMLResponse)
def maintenance_admin(
    page_id: IdPath,
    maintenance_id: IdPath,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    page = service.get_page(session, page_id)
    maintenance = service.get_maintenance(session, page.id, maintenance_id)
    current = MaintenanceStatus(maintenance.status)
    context = {
        "page": page,
        "maintenance": maintenance,
        "components": service.list_components(session, page.id),
        "groups": {g.id: g.name for g in service.list_groups(session, page.id)},
        "chosen": {link.component_id for link in maintenance.components},
        "moves": sorted(workflow.MAINTENANCE_MOVES[current], key=list(MaintenanceStatus).index),
        "proposed": NEXT_MAINTENANCE_STATUS[current].value,
        "scheduled_for_value": local_input_value(request, maintenance.scheduled_for),
        "scheduled_until_value": local_input_value(request, maintenance.scheduled_until),
        "can_act": has_role(user, Role.RESPONDER),
        **_labels(),
    }
    return render(request, "statuspage/maintenance.html", context)


def _maintenance_act(page_id: int, maintenance_id: int, action: Any) -> Response:
    return act_and_return(f"/status-pages/{page_id}/maintenances/{maintenance_id}", action)


@router.post("/status-pages/{page_id}/maintenances/{maintenance_id}/updates")
def post_maintenance_update(
    page_id: IdPath, maintenance_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "status": text(form, "status"),
            "body": text(form, "body"),
            "notify": _checked(form, "notify"),
        }
        update = service.post_maintenance_update(
            session, user, page_id, maintenance_id, parse(MaintenanceUpdatePost, values)
        )
        label = workflow.MAINTENANCE_LABEL[MaintenanceStatus(update.status)]
        return f"Update posted ({label.lower()})."

    return _maintenance_act(page_id, maintenance_id, act)


@router.post("/status-pages/{page_id}/maintenances/{maintenance_id}/edit")
def edit_maintenance(
    page_id: IdPath, maintenance_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "name": text(form, "name"),
            "scheduled_for": local_datetime(form, "scheduled_for", user.time_zone),
            "scheduled_until": local_datetime(form, "scheduled_until", user.time_zone),
            "component_ids": [v for v in form.getlist("component_ids") if isinstance(v, str) and v],
            "automatic": _checked(form, "automatic"),
            "remind_subscribers": _checked(form, "remind_subscribers"),
        }
        service.edit_maintenance(
            session, user, page_id, maintenance_id, parse(MaintenanceEdit, values)
        )
        return "Saved."

    return _maintenance_act(page_id, maintenance_id, act)


from tocsin.statuspage import subscriber_views  # noqa: E402  (the subscriber list)

router.include_router(subscriber_views.router)
