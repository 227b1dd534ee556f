"""Telling the public cache that a page changed, in this process and in every other.

A change bumps the page's `version` in the same transaction as the change itself;
other processes see the new version when they next check (at most a second later,
see cache.py). This process learns at once: when a transaction that changed a page
commits, the process-wide generation moves on and every cached page is checked again
on its next request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from tocsin.statuspage.models import StatusPage

_CHANGED = "tocsin_status_page_changed"
_generation = 0


def generation() -> int:
    """Moves on after each local commit that changed a status page."""
    return _generation


def page_changed(session: Session, page_id: int, at: datetime) -> None:
    """Bumps the page's version in the caller's transaction (an atomic `version + 1`, so two
    concurrent writers never both produce the same version)."""
    session.execute(
        update(StatusPage)
        .where(StatusPage.id == page_id)
        .values(version=StatusPage.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    page = session.identity_map.get(session.identity_key(StatusPage, page_id))
    if page is not None:
        session.expire(page, ["version", "updated_at"])
    session.info[_CHANGED] = True


def note_removed(session: Session) -> None:
    """A page is going away: nothing to bump, but this process must look again."""
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    global _generation
    if session.info.pop(_CHANGED, False):
        _generation += 1


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
