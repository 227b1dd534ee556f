"""Pages for one-click responses from a notification, and your notification settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import TocsinError
from tocsin.paging import service
from tocsin.paging.models import Channel
from tocsin.paging.schemas import ContactMethodCreate, RuleIn
from tocsin.web.forms import FormBody, parse, text
from tocsin.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- one-click links (no login)


@router.get("/respond/{token}", response_class=HTMLResponse)
def respond_page(token: str, request: Request, session: DbSession) -> Response:
    """Shows what the link will do. Only the POST acts: mail scanners open links too."""
    try:
        link = service.action_link(session, token[:200])
    except TocsinError as refused:
        return render(
            request,
            "paging/respond.html",
            {"error": refused.message},
            status_code=refused.status_code,
        )
    return render(request, "paging/respond.html", {"link": link, "token": token})


@router.post("/respond/{token}", response_class=HTMLResponse)
def respond(token: str, request: Request, session: DbSession) -> Response:
    try:
        link = service.use_action_link(session, token[:200])
    except TocsinError as refused:
        session.rollback()
        return render(
            request,
            "paging/respond.html",
            {"error": refused.message},
            status_code=refused.status_code,
        )
    return render(request, "paging/respond.html", {"done": link})


# ---------------------------------------------------------------- notification settings


@router.get("/settings/notifications", response_class=HTMLResponse)
def settings_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    context = {
        "methods": service.contact_methods(session, user),
        "rules": service.notification_rules(session, user),
        "notifications": service.notifications_of(session, user, limit=30),
        "channels": list(Channel),
        "mail_ready": _mail_ready(request),
    }
    return render(request, "paging/settings.html", context)


def _mail_ready(request: Request) -> bool:
    """Whether this Tocsin can send email at all (TOCSIN_SMTP_URL is set)."""
    return bool(request.app.state.settings.smtp_url)


@router.post("/settings/notifications/methods")
def add_method(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {
        "channel": text(form, "channel"),
        "address": text(form, "address"),
        "label": text(form, "label"),
    }
    try:
        method = service.add_contact_method(session, user, parse(ContactMethodCreate, values))
    except TocsinError as refused:
        return redirect("/settings/notifications", f"error|{refused.message}")
    return redirect("/settings/notifications", f"ok|{method.label or method.channel} added.")


@router.post("/settings/notifications/methods/{method_id}/delete")
def delete_method(method_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_contact_method(session, user, method_id)
    return redirect("/settings/notifications", "ok|Contact method removed.")


@router.post("/settings/notifications/methods/{method_id}/test")
def test_method(
    method_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    try:
        sent = service.test_contact_method(session, user, method_id)
    except TocsinError as refused:
        return redirect("/settings/notifications", f"error|{refused.message}")
    where = sent.label or sent.channel
    if sent.channel == Channel.EMAIL.value and not _mail_ready(request):
        return redirect(
            "/settings/notifications",
            f"error|The test to {where} is queued, but this Tocsin has no mail server set up "
            "(TOCSIN_SMTP_URL), so it cannot arrive. Ask an admin, or use another way.",
        )
    return redirect(
        "/settings/notifications",
        f"ok|A test is on its way to {where}. Its delivery shows under Recent notifications.",
    )


@router.post("/settings/notifications/rules")
def save_rules(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    """Rows of (contact method, minutes); a row left empty is dropped."""
    rules = []
    methods = form.getlist("contact_method_id")
    delays = form.getlist("delay_minutes")
    try:
        for method, delay in zip(methods, delays, strict=False):
            if isinstance(method, str) and method.strip():
                minutes = delay if isinstance(delay, str) and delay.strip() else "0"
                rules.append(parse(RuleIn, {"contact_method_id": method, "delay_minutes": minutes}))
        service.replace_notification_rules(session, user, rules)
    except TocsinError as refused:
        return redirect("/settings/notifications", f"error|{refused.message}")
    return redirect("/settings/notifications", "ok|Notification rules saved.")
