"""The public side of subscriptions: the subscribe form and the links mailed to subscribers.

The form works without JavaScript and without a login on a public page. With no login
session to hold a CSRF token, it carries a double-submit token (a cookie and a form
field that must match). Whatever the address, the answer is the same "check your
inbox", so the form tells nobody who is subscribed. A private page's form needs a
login, and its session's CSRF token.

Mailed links carry their own secret: the confirm and unsubscribe pages need no login.
Their GET only shows a button (mail scanners follow links); POST acts, and a mail
client's RFC 8058 one-click POST unsubscribes directly.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from tocsin.auth.secrets import same_token
from tocsin.deps import DbSession, current_user
from tocsin.errors import NotFound, TocsinError, TooManyAttempts
from tocsin.schemas import Email
from tocsin.statuspage import form_guard, service, subscribers, workflow
from tocsin.statuspage.models import StatusPage, Subscriber
from tocsin.web.errors import wants_json
from tocsin.web.forms import FormBody, parse, text
from tocsin.web.templating import render

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "tocsin_subscribe_csrf"
SlugPath = Annotated[str, Path(max_length=64)]
TokenPath = Annotated[str, Path(max_length=300)]
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class SubscribeForm(BaseModel):
    email: Email


def _page(request: Request, session: Session, slug: str, csrf: str | None = None) -> StatusPage:
    page = service.page_by_slug(session, slug)
    if page is None:
        raise NotFound("No such status page.", field="slug")
    if not page.public:
        current_user(request, session, csrf)
    return page


def _frame(session: Session, page: StatusPage) -> dict[str, Any]:
    """What the public pages' frame (public/base.html) needs."""
    components = service.list_components(session, page.id)
    open_incidents = service.list_incidents(session, page.id, unresolved_only=True)
    indicator = workflow.page_indicator(
        (c.status for c in components), (i.impact for i in open_incidents)
    )
    return {"page": page, "base": f"/status/{page.slug}", "indicator": indicator}


def _answer(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = render(request, f"statuspage/public/{name}", context, status_code=status)
    response.headers.update(NO_STORE)
    return response


def _form(
    request: Request,
    session: Session,
    page: StatusPage,
    *,
    error: str = "",
    email: str = "",
    chosen: frozenset[str] = frozenset(),
    status: int = 200,
) -> Response:
    token = subscribers.new_form_token()
    components = service.list_components(session, page.id)
    context = {
        **_frame(session, page),
        "components": components,
        "chosen": chosen,
        "email": email,
        "error": error,
        # A private page's form is sent by a logged-in reader: their session's token.
        "form_token": token if page.public else request.state.csrf_token,
    }
    response = _answer(request, "subscribe.html", context, status)
    if page.public:
        response.set_cookie(
            FORM_COOKIE,
            token,
            path=f"/status/{page.slug}",
            httponly=True,
            samesite="strict",
            max_age=3600,
            secure=request.app.state.settings.secure_cookies,
        )
    return response


@router.get("/status/{slug}/subscribe", response_class=HTMLResponse)
def subscribe_form(slug: SlugPath, request: Request, session: DbSession) -> Response:
    page = _page(request, session, slug.lower())
    return _form(request, session, page)


@router.post("/status/{slug}/subscribe", response_class=HTMLResponse)
def subscribe(slug: SlugPath, request: Request, form: FormBody, session: DbSession) -> Response:
    submitted = text(form, "csrf_token")
    page = _page(request, session, slug.lower(), submitted)
    chosen = frozenset(v for v in form.getlist("component") if isinstance(v, str))
    email = text(form, "email").strip()
    if page.public:
        expected = request.cookies.get(FORM_COOKIE, "")
        if not expected or not same_token(submitted, expected):
            message = "This form expired; please send it again."
            return _form(
                request, session, page, error=message, email=email, chosen=chosen, status=400
            )
    try:
        address = parse(SubscribeForm, {"email": email}).email
    except TocsinError:
        message = "Please enter an email address, e.g. name@example.com."
        return _form(request, session, page, error=message, email=email, chosen=chosen, status=422)
    sender = form_guard.Sender(_client_address(request), request.app.state.settings)
    try:
        subscribers.subscribe(session, page, address, chosen, sender)
    except TooManyAttempts as refused:
        if wants_json(request):
            raise
        response = _form(
            request, session, page, error=refused.message, email=email, chosen=chosen, status=429
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    response = _answer(request, "subscribed.html", {**_frame(session, page), "email": address})
    response.delete_cookie(FORM_COOKIE, path=f"/status/{page.slug}")
    return response


def _client_address(request: Request) -> str:
    """The sender's address; behind a trusted proxy uvicorn has put X-Forwarded-For here."""
    return request.client.host if request.client else ""


def _by_slug(session: Session, slug: str) -> StatusPage:
    """For mailed links: the secret is the credential, even for a private page."""
    page = service.page_by_slug(session, slug.lower())
    if page is None:
        raise NotFound("No such status page.", field="slug")
    return page


def _gone(request: Request, session: Session, page: StatusPage, gone: NotFound) -> Response:
    """A wrong or used-up mailed link: said on the status page itself, not a dead end."""
    context = {**_frame(session, page), "action": "gone", "message": gone.message}
    return _answer(request, "subscription.html", context, 404)


def _subscription(
    request: Request,
    session: Session,
    page: StatusPage,
    subscriber: Subscriber,
    action: str,
    *,
    done: bool,
) -> Response:
    """The page behind a mailed link: whom it is for, what they follow, and its button."""
    context = {
        **_frame(session, page),
        "subscriber": subscriber,
        "follows": subscribers.component_names(session, subscriber),
        "action": action,
        "done": done,
    }
    return _answer(request, "subscription.html", context)


@router.get("/status/{slug}/subscriptions/{token}/confirm", response_class=HTMLResponse)
def confirm_page(
    slug: SlugPath, token: TokenPath, request: Request, session: DbSession
) -> Response:
    page = _by_slug(session, slug)
    try:
        subscriber = subscribers.by_link(session, page, token)
    except NotFound as gone:
        return _gone(request, session, page, gone)
    return _subscription(
        request, session, page, subscriber, "confirm", done=subscriber.confirmed_at is not None
    )


@router.post("/status/{slug}/subscriptions/{token}/confirm", response_class=HTMLResponse)
def confirm(slug: SlugPath, token: TokenPath, request: Request, session: DbSession) -> Response:
    page = _by_slug(session, slug)
    try:
        subscriber = subscribers.confirm(session, page, token)
    except NotFound as gone:
        return _gone(request, session, page, gone)
    return _subscription(request, session, page, subscriber, "confirm", done=True)


@router.get("/status/{slug}/subscriptions/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(
    slug: SlugPath, token: TokenPath, request: Request, session: DbSession
) -> Response:
    page = _by_slug(session, slug)
    try:
        subscriber = subscribers.by_link(session, page, token)
    except NotFound as gone:
        return _gone(request, session, page, gone)
    return _subscription(request, session, page, subscriber, "unsubscribe", done=False)


@router.post("/status/{slug}/subscriptions/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe(slug: SlugPath, token: TokenPath, request: Request, session: DbSession) -> Response:
    """Also the RFC 8058 one-click target (a mail client posts `List-Unsubscribe=One-Click`)."""
    page = _by_slug(session, slug)
    try:
        address = subscribers.unsubscribe(session, page, token)
    except NotFound as gone:
        return _gone(request, session, page, gone)
    context = {**_frame(session, page), "address": address, "action": "unsubscribe", "done": True}
    return _answer(request, "subscription.html", context)
