"""Status pages themselves (address, name, who may read); every other part finds its page here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin
from tocsin.db import now
from tocsin.errors import Conflict, NotFound
from tocsin.statuspage import changes
from tocsin.statuspage.models import StatusPage
from tocsin.statuspage.schemas import PageCreate, PageUpdate

RECENT = 50  # incidents and maintenances an API list returns, like Statuspage's


def record_change(
    session: Session,
    actor: User,
    page: StatusPage,
    action: str,
    summary: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """An admin's change to a page: in the audit log, and its cached documents made stale."""
    audit.record(session, actor.id, action, "status_page", page.id, summary, details)
    changes.page_changed(session, page.id, at or now())


def list_pages(session: Session) -> list[StatusPage]:
    return list(session.scalars(select(StatusPage).order_by(StatusPage.name, StatusPage.id)))


def get_page(session: Session, page_id: int) -> StatusPage:
    page = session.get(StatusPage, page_id)
    if page is None:
        raise NotFound(f"No status page with id {page_id}.", field="page_id")
    return page


def page_by_slug(session: Session, slug: str) -> StatusPage | None:
    return session.scalar(select(StatusPage).where(StatusPage.slug == slug.lower()))


def _unique_slug(session: Session, slug: str, own_id: int | None = None) -> None:
    clash = page_by_slug(session, slug)
    if clash is not None and clash.id != own_id:
        raise Conflict(f"The address /status/{slug} is taken by {clash.name}.", field="slug")


def create_page(session: Session, actor: User, data: PageCreate) -> StatusPage:
    require_admin(actor, "add status pages")
    _unique_slug(session, data.slug)
    at = now()
    page = StatusPage(
        slug=data.slug,
        name=data.name,
        public=data.public,
        time_zone=data.time_zone,
        url=data.url,
        created_at=at,
        updated_at=at,
    )
    session.add(page)
    session.flush()
    audit.record(
        session,
        actor.id,
        "status_page.created",
        "status_page",
        page.id,
        f"Status page {page.name} (/status/{page.slug}, {'public' if page.public else 'private'})"
        " added",
    )
    changes.note_removed(session)  # a slug that answered 404 may be cached as missing
    session.commit()
    return page


def update_page(session: Session, actor: User, page_id: int, data: PageUpdate) -> StatusPage:
    require_admin(actor, "change status pages")
    page = get_page(session, page_id)
    changed = data.model_dump(exclude_unset=True, exclude_none=True)
    if "slug" in changed:
        _unique_slug(session, data.slug, page.id)
    for name, value in changed.items():
        setattr(page, name, value)
    audit.record(
        session,
        actor.id,
        "status_page.updated",
        "status_page",
        page.id,
        f"Status page {page.name} changed",
        changed,
    )
    session.flush()
    changes.page_changed(session, page.id, now())
    session.commit()
    return page


def delete_page(session: Session, actor: User, page_id: int) -> None:
    require_admin(actor, "remove status pages")
    page = get_page(session, page_id)
    audit.record(
        session,
        actor.id,
        "status_page.deleted",
        "status_page",
        page.id,
        f"Status page {page.name} (/status/{page.slug}) removed",
    )
    session.delete(page)
    changes.note_removed(session)
    session.commit()
