"""The status page admin's subscriber list: who is subscribed, how their mail went, add, remove."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.auth.permissions import Role, has_role
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import TocsinError
from tocsin.paging.addresses import redacted
from tocsin.statuspage import service, subscribers
from tocsin.statuspage.schemas import SubscriberCreate
from tocsin.web.forms import FormBody, parse, text
from tocsin.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


def _here(page_id: int) -> str:
    return f"/status-pages/{page_id}/subscribers"


@router.get("/status-pages/{page_id}/subscribers", response_class=HTMLResponse)
def subscribers_page(
    page_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    page = service.get_page(session, page_id)
    context = {
        "page": page,
        "subscribers": subscribers.overview(session, user, page.id),
        "components": service.list_components(session, page.id),
        "is_admin": user.is_admin,
        "can_act": has_role(user, Role.RESPONDER),
    }
    return render(request, "statuspage/subscribers.html", context)


@router.post("/status-pages/{page_id}/subscribers")
def add_subscriber(
    page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {
        "kind": text(form, "kind") or "email",
        "address": text(form, "address"),
        "component_ids": [v for v in form.getlist("component_id") if isinstance(v, str) and v],
        "skip_confirmation": text(form, "skip_confirmation") == "on",
    }
    try:
        added = subscribers.add_subscriber(session, user, page_id, parse(SubscriberCreate, values))
    except TocsinError as refused:
        return redirect(_here(page_id), f"error|{refused.message}")
    if added.confirmed_at is None:
        return redirect(
            _here(page_id), f"ok|{redacted(added.address)} is asked to confirm by mail."
        )
    return redirect(_here(page_id), f"ok|{redacted(added.address)} is subscribed.")


@router.post("/status-pages/{page_id}/subscribers/{subscriber_id}/delete")
def remove_subscriber(
    page_id: IdPath, subscriber_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    try:
        subscribers.remove_subscriber(session, user, page_id, subscriber_id)
    except TocsinError as refused:
        return redirect(_here(page_id), f"error|{refused.message}")
    return redirect(_here(page_id), "ok|The subscriber is removed.")
