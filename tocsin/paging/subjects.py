"""The alerts and incidents that pages are about: how paging acts on them without importing them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.paging.models import Page
from tocsin.timeline import service as timeline


@dataclass(frozen=True)
class SubjectHandler:
    """How a higher domain acts on its own subject when someone uses a one-click link."""

    # Called with the page whose link was used (its subject_id names the subject).
    acknowledge: Callable[[Session, Page, User], None]
    resolve: Callable[[Session, Page, User], None] | None  # None: resolving needs more than a tap
    path: Callable[[int, str], str]  # the subject's page in the web UI, from its id and key
    # Whether only the subject's key, severity and link may leave Tocsin (a restricted incident).
    restricted: Callable[[Session, int], bool] | None = None
    # Called, in the paging transaction, for each person paged about the subject.
    paged: Callable[[Session, int, User], None] | None = None


_subjects: dict[str, SubjectHandler] = {}


def register_subject(subject_type: str, handler: SubjectHandler) -> None:
    _subjects[subject_type] = handler


def handler_of(subject_type: str) -> SubjectHandler | None:
    """The registered handler of a kind of subject; None when no domain registered it."""
    return _subjects.get(subject_type)


def mark(
    session: Session,
    page: Page,
    kind: str,
    message: str,
    actor_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Leaves a mark about a page on the timeline of the alert or incident it is about."""
    timeline.record(
        session,
        page.subject_type,
        page.subject_id,
        kind,
        message,
        actor_id=actor_id,
        data={"page_id": page.id},
        at=at,
    )
