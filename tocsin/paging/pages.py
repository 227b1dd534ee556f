"""Pages themselves: starting, acknowledging, resolving and escalating them, and their cards."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.db import now, wake_engines
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.paging import targets
from tocsin.paging.models import DeliveryStatus, Notification, Page, PageRecipient, PageStatus
from tocsin.paging.subjects import mark


def start_page(
    session: Session,
    *,
    subject_type: str,
    subject_id: int,
    subject_key: str,
    title: str,
    severity: str,
    service_id: int | None = None,
    page_targets: Iterable[dict[str, Any]] = (),
    message: str = "",
    actor: User | None = None,
    due_at: datetime | None = None,
) -> Page:
    """Starts an escalation, due at once (or at `due_at`); adds to the caller's transaction.

    With `service_id` the service's escalation policy decides who is paged at each level;
    with `page_targets` ({"kind": user|team|schedule|service, "id": n}) one level pages them.
    """
    page = Page(
        subject_type=subject_type,
        subject_id=subject_id,
        subject_key=subject_key,
        title=title[:1000],
        severity=severity,
        message=message,
        service_id=service_id,
        targets=list(page_targets),
        status=PageStatus.ACTIVE.value,
        next_step_at=due_at or now(),
        created_by=actor,
    )
    session.add(page)
    session.flush()
    why_nobody = targets.nobody_reason(session, page)
    if why_nobody is not None:
        # Never "started paging" when nobody can be paged: say so, and why, at once.
        end_page(session, page, PageStatus.EXHAUSTED, None, page.created_at or now())
        mark(session, page, "page_exhausted", f"Nobody was paged: {why_nobody}")
        return page
    wake_engines(session)
    who = actor.name if actor else "Tocsin"
    mark(
        session,
        page,
        "page_started",
        f"{who} started paging: {targets.describe(session, page)}",
        actor.id if actor else None,
    )
    return page


def paged_anyone(session: Session, page: Page) -> bool:
    """Whether the page reached anyone's phone at all (a page of nobody stops unremarked)."""
    query = select(PageRecipient.page_id).where(PageRecipient.page_id == page.id).limit(1)
    return session.scalar(query) is not None


def nobody_paged(session: Session, pages: list[Page]) -> str | None:
    """Why these pages (of one alert or incident) reached nobody, for its page to say in
    plain words; None while someone was paged or paging goes on."""
    if not pages or any(p.status == PageStatus.ACTIVE.value for p in pages):
        return None
    if any(paged_anyone(session, p) for p in pages):
        return None
    for page in pages:
        why = targets.nobody_reason(session, page)
        if why is not None:
            return why
    return "nobody was on call"


def check_targets(session: Session, page_targets: list[dict[str, Any]]) -> None:
    """Every target exists (and people are active), or an InvalidInput naming the first."""
    for target in page_targets:
        if not targets.exists(session, target["kind"], int(target["id"])):
            raise InvalidInput(
                f"No {target['kind']} with id {target['id']} to page.", field="targets"
            )


def end_page(
    session: Session, page: Page, status: PageStatus, actor: User | None, at: datetime
) -> None:
    """Stops an escalation; what it queued is cancelled unless nobody answered it."""
    page.status = status.value
    page.next_step_at = None
    page.ended_at = at
    page.ended_by = actor
    if status is PageStatus.EXHAUSTED:
        return  # nobody answered: what is queued must still go out
    session.execute(
        update(Notification)
        .where(Notification.page_id == page.id, Notification.status == DeliveryStatus.PENDING.value)
        .values(status=DeliveryStatus.CANCELLED.value)
    )


def active_pages(session: Session, subject_type: str, subject_id: int) -> list[Page]:
    query = select(Page).where(
        Page.subject_type == subject_type,
        Page.subject_id == subject_id,
        Page.status.in_([PageStatus.ACTIVE.value, PageStatus.EXHAUSTED.value]),
    )
    return list(session.scalars(query))


def acknowledge_subject(
    session: Session,
    subject_type: str,
    subject_id: int,
    actor: User | None,
    by: str = "",
    *,
    include_requested: bool = True,
) -> int:
    """Stops the escalations about the subject: someone is on it. Adds to the transaction.

    With `include_requested=False` the pages a person sent (the incident manager asking
    the database on-call for help) go on until one of their own recipients answers."""
    pages = active_pages(session, subject_type, subject_id)
    if not include_requested:
        pages = [page for page in pages if page.created_by_id is None]
    for page in pages:
        acknowledge_page(session, page, actor, by)
    return len(pages)


def acknowledge_page(session: Session, page: Page, actor: User | None, by: str = "") -> bool:
    """Stops one escalation (its pending notifications are cancelled); False when it had
    already stopped. Adds to the caller's transaction."""
    if page.status not in (PageStatus.ACTIVE.value, PageStatus.EXHAUSTED.value):
        return False
    moment = now()
    end_page(session, page, PageStatus.ACKNOWLEDGED, actor, moment)
    if not paged_anyone(session, page):
        return True  # nobody was paged: there is no paging to stop
    mark(
        session,
        page,
        "page_acknowledged",
        f"Paging stopped: acknowledged by {by or (actor.name if actor else 'the sender')}",
        actor.id if actor else None,
        moment,
    )
    return True


def resolve_subject(
    session: Session, subject_type: str, subject_id: int, actor: User | None, by: str = ""
) -> int:
    moment = now()
    pages = active_pages(session, subject_type, subject_id)
    for page in pages:
        end_page(session, page, PageStatus.RESOLVED, actor, moment)
        if not paged_anyone(session, page):
            continue  # nobody was paged: there is no paging to stop
        mark(
            session,
            page,
            "page_resolved",
            f"Paging stopped: resolved by {by or (actor.name if actor else 'the sender')}",
            actor.id if actor else None,
            moment,
        )
    return len(pages)


@dataclass(frozen=True)
class PageFacts:
    """What a page's card says beside its state: whom it pages, and who got the message."""

    targets: str  # whom it pages: "the on-call of payments", "Alice, the Database team"
    reached: list[str]  # paged, and at least one message was delivered
    sending: list[str]  # paged, the first message on its way
    failing: list[str]  # paged, but every message so far failed: nobody has told them


def facts_of_pages(session: Session, pages: list[Page]) -> dict[int, PageFacts]:
    """People are "reached" only once a message to them went out, never merely for being paged."""
    paged: dict[int, dict[int, str]] = {p.id: {} for p in pages}
    delivery: dict[tuple[int, int], tuple[bool, bool]] = {}
    if pages:
        query = (
            select(PageRecipient.page_id, User.id, User.name)
            .join(User, User.id == PageRecipient.user_id)
            .where(PageRecipient.page_id.in_(list(paged)))
            .order_by(PageRecipient.paged_at, User.name)
        )
        for page_id, user_id, name in session.execute(query):
            paged[page_id].setdefault(user_id, name)
        sent = func.max(case((Notification.status == DeliveryStatus.SENT.value, 1), else_=0))
        # A failed send leaves its error (cleared once one goes out); a first send still in
        # flight has counted its attempt but failed at nothing yet.
        failed = func.max(case((Notification.last_error != "", 1), else_=0))
        query = (
            select(Notification.page_id, Notification.user_id, sent, failed)
            .where(
                Notification.page_id.in_(list(paged)),
                Notification.status != DeliveryStatus.CANCELLED.value,
            )
            .group_by(Notification.page_id, Notification.user_id)
        )
        for page_id, user_id, any_sent, any_failed in session.execute(query):
            delivery[(page_id, user_id)] = (bool(any_sent), bool(any_failed))
    facts = {}
    for page in pages:
        reached, sending, failing = [], [], []
        for user_id, name in paged[page.id].items():
            any_sent, any_failed = delivery.get((page.id, user_id), (False, False))
            (reached if any_sent else failing if any_failed else sending).append(name)
        facts[page.id] = PageFacts(targets.describe(session, page), reached, sending, failing)
    return facts


def get_page(session: Session, page_id: int) -> Page:
    page = session.get(Page, page_id)
    if page is None:
        raise NotFound(f"No page {page_id}.", field="page_id")
    return page


def pages_of(session: Session, subject_type: str, subject_id: int) -> list[Page]:
    query = (
        select(Page)
        .where(Page.subject_type == subject_type, Page.subject_id == subject_id)
        .order_by(Page.id.desc())
    )
    return list(session.scalars(query))


def paged_subjects(session: Session, subject_type: str, subject_ids: Iterable[int]) -> set[int]:
    """Which of these subjects (alerts, say) have been paged for at all."""
    ids = list(subject_ids)
    if not ids:
        return set()
    query = select(Page.subject_id).where(
        Page.subject_type == subject_type, Page.subject_id.in_(ids)
    )
    return set(session.scalars(query.distinct()))


def escalate_now(session: Session, actor: User, page_id: int, subject: tuple[str, int]) -> Page:
    """Fires the next level now instead of waiting for its delay."""
    require_responder(actor, "escalate")
    page = get_page(session, page_id)
    if (page.subject_type, page.subject_id) != subject:
        raise NotFound(f"No page {page_id} here.", field="page_id")
    if page.status != PageStatus.ACTIVE.value:
        raise Conflict(
            f"This page is {page.status}; only an active page escalates.", field="status"
        )
    page.next_step_at = now()
    mark(session, page, "page_escalated", f"{actor.name} escalated to the next level now", actor.id)
    wake_engines(session)  # now means now, not at the next tick
    session.commit()
    return page
