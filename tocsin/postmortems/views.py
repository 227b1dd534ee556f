"""Postmortems in the web UI: the section on the incident page, the postmortem page (every
section editable without script, a refused save kept beside the newer text), review moves,
and the list."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.auth.permissions import Role, has_role
from tocsin.catalogue import service as catalogue
from tocsin.deps import CurrentUser, DbSession, KeyPath
from tocsin.errors import InvalidInput, NotFound, TocsinError
from tocsin.incidents.models import Incident
from tocsin.postmortems import service, template, workflow
from tocsin.postmortems.schemas import PostmortemFilters, PostmortemSave, StatusMove
from tocsin.postmortems.workflow import Category, Status
from tocsin.web.forms import FormBody, parse, text
from tocsin.web.page_sections import add_section
from tocsin.web.templating import act_and_return, redirect, render

router = APIRouter(include_in_schema=False)

SPARE_ROWS = 2  # empty rows a form offers for another why or timeline event


def _page(key: str) -> str:
    return f"/incidents/{key}/postmortem"


def incident_section(
    request: Request, session: Session, user: User, incident: Incident
) -> dict[str, Any]:
    """The incident page shows its postmortem, status and owner, or a way to start one."""
    found = service.postmortem_of_incident(session, incident)
    return {
        "postmortem": found,
        "postmortem_overdue": service.is_overdue(found) if found else False,
        "postmortem_label": workflow.LABEL[Status(found.status)] if found else "",
        "postmortem_expected": service.is_major(incident),
    }


add_section("incident", incident_section)


# ---------------------------------------------------------------- the postmortem page


def _moves(session: Session, user: User, view: service.PostmortemView) -> list[dict[str, Any]]:
    current = Status(view.postmortem.status)
    if not has_role(user, Role.RESPONDER):
        return []
    return [
        {
            "to": target.value,
            "label": workflow.move_name(current, target),
            "needs_comment": current is Status.IN_REVIEW and target is Status.DRAFT,
            "comment_optional": target is Status.DRAFT and current is not Status.IN_REVIEW,
        }
        for target in workflow.allowed_moves(current)
    ]


def _local_rows(rows: list[dict[str, str]], zone: str) -> list[dict[str, str]]:
    """Timeline rows with their time as a datetime-local value in the timeline's zone."""
    tz = ZoneInfo(zone)
    shown = []
    for row in rows:
        at = datetime.fromisoformat(row["at"]).astimezone(tz)
        shown.append(
            {
                "at": at.strftime("%Y-%m-%dT%H:%M"),
                "shown": f"{at:%b %d, %H:%M}",
                "text": row["text"],
            }
        )
    return shown


def _render_page(
    request: Request,
    session: Session,
    user: User,
    key: str,
    *,
    typed: dict[str, Any] | None = None,
    refused: TocsinError | None = None,
) -> Response:
    view = service.get_postmortem(session, user, key)
    postmortem, document = view.postmortem, view.document
    zone = document.get("timeline_time_zone") or "UTC"
    can_edit = has_role(user, Role.RESPONDER) and postmortem.status == Status.DRAFT.value
    forms: dict[str, Any] = {name: document.get(name) for name in template.SECTIONS}
    forms["timeline"] = _local_rows(document.get("timeline") or [], zone)
    if typed:
        forms.update(typed)
    advice: dict[str, list[Any]] = {}
    for found in service.findings_of(session, user, key):
        advice.setdefault(found.section.split(".", 1)[0], []).append(found)
    context = {
        "advice": advice,
        "incident": postmortem.incident,
        "postmortem": postmortem,
        "view": view,
        "document": document,
        "forms": forms,
        "zone": zone,
        "timeline_rows": _local_rows(document.get("timeline") or [], zone),
        "text_sections": template.TEXT_SECTIONS,
        "order": template.ORDER,
        "labels": template.LABELS,
        "categories": [c.value for c in Category],
        "status_label": workflow.LABEL[Status(postmortem.status)],
        "overdue": service.is_overdue(postmortem),
        "moves": _moves(session, user, view),
        "can_edit": can_edit,
        "can_hand_on": has_role(user, Role.RESPONDER)
        and (
            user.is_admin
            or user.id in (postmortem.owner_id, postmortem.incident.incident_manager_id)
        ),
        "people": [u for u in auth.list_users(session) if u.role != Role.VIEWER.value],
        "spare_rows": SPARE_ROWS,
        "missing": [workflow.FIELD_WORDS[n] for n in service.missing_for_review(document)]
        if postmortem.status == Status.DRAFT.value
        else [],
        "error": refused,
        "error_section": typed and next(iter(typed), None),
    }
    if refused is not None:
        context["flash"] = ("error", refused.message)
    status = refused.status_code if refused is not None else 200
    return render(request, "postmortems/page.html", context, status_code=status)


@router.get("/incidents/{key}/postmortem", response_class=HTMLResponse)
def postmortem_page(
    key: KeyPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    return _render_page(request, session, user, key)


def _rows(form: FormData, *names: str) -> list[dict[str, str]]:
    """Numbered form rows (why_0, answer_0, why_1, ...) in order, as typed."""
    rows = []
    index = 0
    while any(f"{name}_{index}" in form for name in names) and index < 600:
        rows.append({name: text(form, f"{name}_{index}") for name in names})
        index += 1
    return rows


def _section_values(form: FormData, section: str, zone: str) -> tuple[dict[str, Any], Any]:
    """(what the save sends, what the form shows again if refused) for one section."""
    if section in template.TEXT_SECTIONS:
        value = text(form, "text")
        return {section: value}, value
    if section == "five_whys":
        rows = _rows(form, "why", "answer")
        return {section: rows}, rows
    if section == "timeline":
        new_zone = text(form, "time_zone").strip() or zone
        rows = [r for r in _rows(form, "at", "text") if r["at"].strip() or r["text"].strip()]
        sent = []
        for index, row in enumerate(rows):
            try:
                at = datetime.fromisoformat(row["at"]).replace(tzinfo=ZoneInfo(new_zone))
            except (ValueError, KeyError):
                raise InvalidInput(
                    f"Timeline row {index + 1}: enter a date and time.",
                    field=f"timeline.{index}.at",
                ) from None
            sent.append({"at": at.isoformat(), "text": row["text"]})
        return {"timeline": sent, "timeline_time_zone": new_zone}, rows
    if section == "root_cause_category":
        value = text(form, "category").strip() or None
        return {section: value}, value
    if section == "related_incidents":
        typed = text(form, "keys")
        keys = [k for k in typed.replace(",", " ").split() if k]
        return {section: keys}, keys
    raise NotFound(f"No section {section!r} in a postmortem.", field="section")


@router.post("/incidents/{key}/postmortem/sections/{section}")
def save_section(
    key: KeyPath,
    section: str,
    request: Request,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    """One section saved; a refused save comes back with the text as typed."""
    view = service.get_postmortem(session, user, key)
    zone = view.document.get("timeline_time_zone") or "UTC"
    shown: Any = None
    try:
        sent, shown = _section_values(form, section, zone)
        data = parse(PostmortemSave, {"base_version": text(form, "base_version"), **sent})
        saved = service.save(session, user, key, data)
    except TocsinError as refused:
        session.rollback()
        if isinstance(refused, NotFound) and refused.field == "section":
            raise
        return _render_page(request, session, user, key, typed={section: shown}, refused=refused)
    if saved.revision.version == view.revision.version:
        return redirect(f"{_page(key)}#section-{section}", "info|Nothing changed.")
    return redirect(
        f"{_page(key)}#section-{section}",
        f"ok|{template.LABELS[section]} saved (version {saved.revision.version}).",
    )


@router.post("/incidents/{key}/postmortem/timeline/refill")
def refill_timeline(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        everything = text(form, "events") == "all"
        base = int(text(form, "base_version") or 0) if text(form, "base_version").isdigit() else 0
        service.refill_timeline(session, user, key, everything=everything, base_version=base)
        return "The timeline now holds " + ("every event." if everything else "the starred events.")

    return act_and_return(f"{_page(key)}#section-timeline", act)


@router.post("/incidents/{key}/postmortem/findings/dismiss")
def dismiss_finding(
    key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    section = text(form, "section")

    def act() -> str:
        service.dismiss_finding(session, user, key, section, text(form, "text"))
        return "Dismissed: the reviewer sees that you kept these words."

    return act_and_return(f"{_page(key)}#section-{section.split('.', 1)[0]}", act)


@router.post("/incidents/{key}/postmortem/start")
def start(key: KeyPath, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        service.request_postmortem(session, user, key)
        return "The postmortem is started; its facts are already written in."

    try:
        message = act()
    except TocsinError as refused:
        return redirect(f"/incidents/{key}", f"error|{refused.message}")
    return redirect(_page(key), f"ok|{message}")


@router.post("/incidents/{key}/postmortem/status")
def move(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        change = parse(
            StatusMove, {"status": text(form, "status"), "comment": text(form, "comment")}
        )
        view = service.move(session, user, key, change)
        return f"The postmortem is {workflow.LABEL[Status(view.postmortem.status)].lower()}."

    return act_and_return(_page(key), act)


@router.post("/incidents/{key}/postmortem/owner")
def hand_on(key: KeyPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        owner_id = text(form, "owner_id").strip()
        if not owner_id.isdigit():
            raise InvalidInput("Choose the new owner.", field="owner_id")
        view = service.reassign(session, user, key, int(owner_id))
        owner = view.postmortem.owner
        return f"{owner.name if owner else 'Nobody'} owns the postmortem now and is told."

    return act_and_return(_page(key), act)


# ---------------------------------------------------------------- the list


@router.get("/postmortems", response_class=HTMLResponse)
def postmortem_list(request: Request, user: CurrentUser, session: DbSession) -> Response:
    """Every postmortem you may see, by status: the owners' and reviewers' work list."""
    wanted = request.query_params.get("status", "")
    statuses = [Status(wanted)] if wanted in {s.value for s in Status} else []
    found = service.list_postmortems(session, user, PostmortemFilters(status=statuses, limit=200))
    context = {
        "postmortems": found,
        "status": wanted if statuses else "",
        "statuses": [(s.value, workflow.LABEL[s]) for s in Status],
        "labels": workflow.LABEL,
        "is_overdue": service.is_overdue,
    }
    return render(request, "postmortems/list.html", context)


# ---------------------------------------------------------------- the blog


@router.get("/postmortems/blog", response_class=HTMLResponse)
def blog(request: Request, user: CurrentUser, session: DbSession) -> Response:
    """Published postmortems, newest first, filtered by service, team, category and month."""
    wanted = {
        name: request.query_params.get(name, "").strip()
        for name in ("q", "service_id", "team_id", "category", "month")
    }
    filters = parse(
        PostmortemFilters,
        {
            "status": [Status.PUBLISHED.value],
            "limit": 200,
            **{k: v for k, v in wanted.items() if v},
        },
    )
    context = {
        "entries": service.list_postmortems(session, user, filters),
        "wanted": wanted,
        "services": catalogue.list_services(session),
        "teams": auth.list_teams(session),
        "categories": [c.value for c in Category],
    }
    return render(request, "postmortems/blog.html", context)


@router.get("/postmortems/blog/{key}", response_class=HTMLResponse)
def blog_entry(key: KeyPath, request: Request, user: CurrentUser, session: DbSession) -> Response:
    """One published postmortem as it was published, to read or print."""
    view = service.published_view(session, user, key)
    document = view.document
    zone = document.get("timeline_time_zone") or "UTC"
    context = {
        "incident": view.postmortem.incident,
        "postmortem": view.postmortem,
        "view": view,
        "document": document,
        "zone": zone,
        "timeline_rows": _local_rows(document.get("timeline") or [], zone),
        "text_sections": template.TEXT_SECTIONS,
        "order": template.ORDER,
        "labels": template.LABELS,
    }
    return render(request, "postmortems/entry.html", context)


@router.post("/postmortems/feed", response_class=HTMLResponse)
def new_feed(request: Request, user: CurrentUser, session: DbSession) -> Response:
    """A secret Atom feed URL, shown once; the old one stops working."""
    token = service.rotate_feed(session, user)
    base = request.app.state.settings.base_url.rstrip("/")
    url = f"{base}/postmortems/feed.atom?token={token}"
    return render(request, "postmortems/feed.html", {"feed_url": url})


@router.get("/postmortems/feed.atom")
def atom_feed(session: DbSession, token: str = "") -> Response:
    """For feed readers, which cannot log in: the token in the URL is the credential."""
    reader = service.feed_reader(session, token)
    return Response(service.atom_feed(session, reader), media_type="application/atom+xml")
