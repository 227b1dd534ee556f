"""One-click links in a page's message: acknowledge or resolve from the phone, once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.auth import secrets
from tocsin.auth.models import User
from tocsin.db import now
from tocsin.errors import Conflict, Forbidden, NotFound
from tocsin.paging.models import ActionLink, Page, PageStatus
from tocsin.paging.subjects import handler_of

ACTION_LINK_TTL = timedelta(hours=24)
ACTIONS = ("acknowledge", "resolve")


def issue_action_link(
    session: Session, page: Page, person: User, action: str, at: datetime, base_url: str
) -> str:
    """A fresh link for one person to act once on a page, good for ACTION_LINK_TTL."""
    token, lookup, digest = secrets.new_keyed_secret("act")
    session.add(
        ActionLink(
            lookup=lookup,
            secret_hash=digest,
            page_id=page.id,
            user_id=person.id,
            action=action,
            expires_at=at + ACTION_LINK_TTL,
        )
    )
    return f"{base_url.rstrip('/')}/respond/{token}"


def action_link(session: Session, token: str) -> ActionLink:
    """The link behind a token, if it is genuine, unused and unexpired."""
    parts = secrets.split_keyed_secret(token, "act")
    link = None
    if parts is not None:
        link = session.scalar(select(ActionLink).where(ActionLink.lookup == parts[0]))
        if link is not None and not secrets.same_secret(parts[1], link.secret_hash):
            link = None
    if link is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    if not link.user.is_active:
        # The link acts as its person: it stops when they do, like their logins and tokens.
        raise Forbidden(
            "This link no longer works: the account it was sent to is deactivated.",
            code="link_revoked",
        )
    if link.used_at is not None:
        page = link.page
        # About the paging, which is what the link acted on: the alert or incident itself
        # may have moved on since (resolved after an acknowledgement, say).
        if page.status == PageStatus.ACTIVE.value:
            state = f"Paging for {page.subject_key} goes on."
        else:
            who = f" by {page.ended_by.name}" if page.ended_by else ""
            state = f"Paging for {page.subject_key} was {page.status}{who}."
        raise Conflict(f"This link was used already, and it works once. {state}", code="link_used")
    if link.expires_at <= now():
        raise Conflict(
            "This link has expired; open the page in Tocsin instead.", code="link_expired"
        )
    return link


def use_action_link(session: Session, token: str) -> ActionLink:
    """Acknowledges or resolves the page's subject as the person the link was sent to."""
    link = action_link(session, token)
    handler = handler_of(link.page.subject_type)
    if handler is None:
        raise Conflict("Tocsin cannot act on this kind of page.", code="unknown_subject")
    act = handler.acknowledge if link.action == "acknowledge" else handler.resolve
    if act is None:
        raise Conflict("Resolving this needs a few words; open it in Tocsin.", code="open_it")
    link.used_at = now()
    act(session, link.page, link.user)
    session.commit()
    return link
