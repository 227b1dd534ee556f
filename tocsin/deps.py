"""Request dependencies for every `api.py` and `views.py`: the database session and who asks.

A request is authenticated by `Authorization: Bearer <token>` or by the login
cookie; cookie requests that change something must also carry the CSRF token
(form field `csrf_token` or header `X-CSRF-Token`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tocsin.auth import secrets
from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.db import Database
from tocsin.errors import Forbidden, Unauthenticated
from tocsin.schemas import MAX_ID

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "tocsin_session"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def database(request: Request) -> Database:
    return request.app.state.db


def db_session(request: Request) -> Iterator[Session]:
    """One session per request; on SQLite, requests that may write queue for the write lock."""
    session = database(request).session(write=request.method not in SAFE_METHODS)
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(db_session)]


async def submitted_csrf(request: Request) -> str | None:
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def _bearer_user(session: Session, header: str) -> User:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the API token as 'Authorization: Bearer <token>'.")
    user = auth.user_from_token(session, token.strip())
    if user is None:
        raise Unauthenticated("This API token is not valid, or it was revoked.")
    if session.dirty:
        # last_used_at is bookkeeping: losing a race for the write lock must not fail the request.
        try:
            session.commit()
        except OperationalError:
            session.rollback()
    return user


def current_user(
    request: Request,
    session: DbSession,
    csrf: Annotated[str | None, Depends(submitted_csrf)],
) -> User:
    header = request.headers.get("authorization")
    if header:
        user = _bearer_user(session, header)
        request.state.user = user
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    login = auth.login_from_cookie(session, cookie) if cookie else None
    if login is None:
        raise Unauthenticated("Log in, or send an API token as 'Authorization: Bearer <token>'.")
    if request.method not in SAFE_METHODS and not (
        csrf and secrets.same_token(csrf, login.csrf_token)
    ):
        if request.url.path.startswith("/api/"):
            raise Forbidden(
                "A change made with the login cookie needs the X-CSRF-Token header (the "
                "csrf_token of your login, found in any Tocsin form); scripts should send an "
                "API token instead ('Authorization: Bearer <token>').",
                code="csrf",
                field="X-CSRF-Token",
            )
        raise Forbidden(
            "This form expired or came from another site; reload the page and try again.",
            code="csrf_failed",
        )
    request.state.user = login.user
    request.state.csrf_token = login.csrf_token
    return login.user


CurrentUser = Annotated[User, Depends(current_user)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
KeyPath = Annotated[str, Path(max_length=20, description="An incident key such as INC-42.")]
