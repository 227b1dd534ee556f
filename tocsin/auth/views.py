"""Pages for logging in and out, your settings and API tokens, teams, and the admin area."""

from __future__ import annotations

import secrets as random
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.auth import service
from tocsin.auth.models import Role
from tocsin.auth.permissions import require_admin
from tocsin.auth.schemas import TeamCreate, UserCreate, UserUpdate
from tocsin.auth.secrets import same_token
from tocsin.deps import SESSION_COOKIE, CurrentUser, DbSession, IdPath
from tocsin.errors import TocsinError, TooManyAttempts, Unauthenticated
from tocsin.schemas import MAX_ID
from tocsin.web.forms import FormBody, ids, parse, text
from tocsin.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "tocsin_login_csrf"


def _safe_next(target: str) -> str:
    """Only same-site paths, so the login form cannot be used to bounce people elsewhere."""
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return "/incidents"
    return target


@router.get("/", response_class=RedirectResponse)
def home(_user: CurrentUser) -> RedirectResponse:
    return RedirectResponse("/incidents", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/incidents") -> Response:
    return _login_form(request, next)


def _login_form(request: Request, next: str, error: str = "") -> Response:
    """The form, with a fresh double-submit CSRF token (there is no session to hold one yet)."""
    token = random.token_urlsafe(24)
    response = render(
        request, "auth/login.html", {"next": _safe_next(next), "error": error, "login_csrf": token}
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=request.app.state.settings.secure_cookies,
    )
    return response


@router.post("/login")
def login(request: Request, form: FormBody, session: DbSession) -> Response:
    target = _safe_next(text(form, "next") or "/incidents")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not same_token(text(form, "csrf_token"), expected):
        return _login_again(request, target, "Your login form expired; please try again.")
    place = request.client.host if request.client else ""
    try:
        user = service.authenticate_password(
            session, text(form, "email"), text(form, "password"), place
        )
    except Unauthenticated as refused:
        return _login_again(request, target, refused.message, status_code=401)
    except TooManyAttempts as refused:
        response = _login_again(request, target, refused.message, status_code=429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    settings = request.app.state.settings
    cookie, _login = service.start_login(session, user, settings.session_hours)
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _login_again(request: Request, target: str, error: str, status_code: int = 400) -> Response:
    response = _login_form(request, target, error)
    response.status_code = status_code
    return response


@router.post("/logout")
def logout(request: Request, user: CurrentUser, session: DbSession) -> Response:
    service.end_login(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ---------------------------------------------------------------- your settings


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    return render(request, "auth/settings.html", {"tokens": service.list_tokens(session, user)})


@router.post("/settings/profile")
def update_profile(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {"name": text(form, "name"), "time_zone": text(form, "time_zone")}
    if text(form, "password"):
        values["password"] = text(form, "password")
        values["current_password"] = text(form, "current_password")
    try:
        service.update_user(session, user, user.id, parse(UserUpdate, values))
    except TocsinError as refused:
        return redirect("/settings", f"error|{refused.message}")
    return redirect("/settings", "ok|Your profile is saved.")


@router.post("/settings/tokens")
def create_token(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    name = text(form, "name").strip()
    if not name:
        return redirect("/settings", "error|Give the token a name, e.g. the script that uses it.")
    token, plaintext = service.create_token(session, user, name[:120])
    context = {
        "tokens": service.list_tokens(session, user),
        "new_token": plaintext,
        "new_name": token.name,
    }
    return render(request, "auth/settings.html", context)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    token = service.revoke_token(session, user, token_id)
    return redirect("/settings", f"ok|Token '{token.name}' is revoked.")


# ---------------------------------------------------------------- teams


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    context = {"teams": service.list_teams(session), "users": service.list_users(session)}
    return render(request, "auth/teams.html", context)


@router.post("/teams")
def create_team(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "member_ids": ids(form, "member_ids"),
    }
    try:
        team = service.create_team(session, user, parse(TeamCreate, values))
    except TocsinError as refused:
        return redirect("/teams", f"error|{refused.message}")
    return redirect("/teams", f"ok|Team {team.name} is created.")


@router.post("/teams/{team_id}/members")
def add_member(team_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    chosen = text(form, "user_id").strip()
    # Bounded like every id from outside, so PostgreSQL's bigint never overflows.
    if not (chosen.isascii() and chosen.isdigit() and len(chosen) <= 16) or not (
        1 <= int(chosen) <= MAX_ID
    ):
        return redirect("/teams", "error|Pick a person to add.")
    try:
        service.add_team_member(session, user, team_id, int(chosen))
    except TocsinError as refused:
        return redirect("/teams", f"error|{refused.message}")
    return redirect("/teams", "ok|Member added.")


@router.post("/teams/{team_id}/members/{user_id}/remove")
def remove_member(
    team_id: IdPath, user_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    service.remove_team_member(session, user, team_id, user_id)
    return redirect("/teams", "ok|Member removed.")


# ---------------------------------------------------------------- admin: users and audit


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    require_admin(user, "open the admin pages")
    context = {"users": service.list_users(session, include_inactive=True), "roles": list(Role)}
    return render(request, "auth/users.html", context)


@router.post("/admin/users")
def create_user(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {
        "email": text(form, "email"),
        "name": text(form, "name"),
        "role": text(form, "role") or Role.RESPONDER.value,
        "time_zone": text(form, "time_zone") or "UTC",
    }
    try:
        created, generated = service.create_user(session, user, parse(UserCreate, values))
    except TocsinError as refused:
        return redirect("/admin/users", f"error|{refused.message}")
    context = {
        "users": service.list_users(session, include_inactive=True),
        "roles": list(Role),
        "created": created,
        "generated_password": generated,
    }
    return render(request, "auth/users.html", context)


@router.post("/admin/users/{user_id}")
def update_user(user_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {"role": text(form, "role"), "is_active": text(form, "is_active") == "on"}
    try:
        changed = service.update_user(session, user, user_id, parse(UserUpdate, values))
    except TocsinError as refused:
        return redirect("/admin/users", f"error|{refused.message}")
    return redirect("/admin/users", f"ok|{changed.name} is saved.")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    entries = service.audit_log(session, user, limit=200)
    return render(request, "auth/audit.html", {"entries": entries})
