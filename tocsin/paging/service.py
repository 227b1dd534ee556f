"""Paging people: contact methods and rules, escalations (pages), one-click links, the outbox.

Paging stands below alerts and incidents: they call `start_page`, `acknowledge_subject`
and `resolve_subject`. It leaves its marks on their timelines through the timeline
module, and learns how to acknowledge or resolve an alert or incident from a one-click
link through `register_subject` (the higher domain registers itself), never by
importing them.

Deciding to page and queueing the notifications happen in one transaction (the
engine's step); delivery happens later, from the outbox, with retries.

This module is the front door: callers use `paging.f(...)` from here. It keeps the
engine's step and re-exports the rest from the modules along paging's seams:
`subjects` (what pages are about), `contacts` (how to reach a person), `pages`
(starting and stopping them), `action_links` (one-click links), `outbox` (queueing
messages) and `delivery` (sending them). Those never import this module.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.db import claim_rows
from tocsin.paging import escalation, targets
from tocsin.paging.action_links import (
    ACTION_LINK_TTL,
    ACTIONS,
    action_link,
    issue_action_link,
    use_action_link,
)
from tocsin.paging.contacts import (
    Reach,
    add_contact_method,
    contact_methods,
    contact_methods_of,
    delete_contact_method,
    notification_page,
    notification_rules,
    notification_rules_of,
    notifications_of,
    notify_user,
    reaches,
    replace_notification_rules,
    test_contact_method,
)
from tocsin.paging.delivery import (
    MAX_ATTEMPTS,
    UNSENT,
    Delivery,
    OutboxCounts,
    claim_deliveries,
    delivery_problems,
    oldest_due_delivery,
    outbox_counts,
    record_delivery,
    renew_lease,
    retry_delay,
)
from tocsin.paging.messages import PageMessage, page_message, restricted_notice
from tocsin.paging.models import Page, PageRecipient, PageStatus
from tocsin.paging.outbox import QUEUE_CHUNK, QUEUED_KEYS_PG, queue, queue_many, queued_keys
from tocsin.paging.pages import (
    PageFacts,
    acknowledge_page,
    acknowledge_subject,
    active_pages,
    check_targets,
    end_page,
    escalate_now,
    facts_of_pages,
    get_page,
    nobody_paged,
    paged_anyone,
    paged_subjects,
    pages_of,
    resolve_subject,
    start_page,
)
from tocsin.paging.subjects import SubjectHandler, handler_of, mark, register_subject

__all__ = [
    "ACTIONS",
    "ACTION_LINK_TTL",
    "MAX_ATTEMPTS",
    "QUEUED_KEYS_PG",
    "QUEUE_CHUNK",
    "UNSENT",
    "Delivery",
    "OutboxCounts",
    "Page",
    "PageFacts",
    "PageMessage",
    "Reach",
    "SubjectHandler",
    "acknowledge_page",
    "acknowledge_subject",
    "action_link",
    "active_page_count",
    "active_pages",
    "add_contact_method",
    "check_targets",
    "claim_deliveries",
    "contact_methods",
    "contact_methods_of",
    "delete_contact_method",
    "delivery_problems",
    "due_pages",
    "escalate_now",
    "facts_of_pages",
    "get_page",
    "nobody_paged",
    "notification_page",
    "notification_rules",
    "notification_rules_of",
    "notifications_of",
    "notify_user",
    "oldest_due_delivery",
    "oldest_due_step",
    "outbox_counts",
    "page_service_name",
    "paged_anyone",
    "paged_subjects",
    "pages_of",
    "queue",
    "queue_many",
    "queued_keys",
    "reaches",
    "record_delivery",
    "register_subject",
    "renew_lease",
    "replace_notification_rules",
    "resolve_subject",
    "restricted_notice",
    "retry_delay",
    "run_step",
    "start_page",
    "test_contact_method",
    "use_action_link",
]

# ---------------------------------------------------------------- the engine's step


def due_pages(session: Session, at: datetime, limit: int, skip: Collection[int] = ()) -> list[Page]:
    """Active pages whose next step is due (but for `skip`: ones whose step just failed),
    locked so each step fires exactly once."""
    query = (
        select(Page)
        .where(Page.status == PageStatus.ACTIVE.value, Page.next_step_at <= at)
        .order_by(Page.next_step_at, Page.id)
        .limit(limit)
    )
    return claim_rows(session, query, Page, skip)


def oldest_due_step(session: Session, at: datetime) -> datetime | None:
    """When the most overdue escalation step fell due; None when none waits."""
    return session.scalar(
        select(func.min(Page.next_step_at)).where(
            Page.status == PageStatus.ACTIVE.value, Page.next_step_at <= at
        )
    )


def active_page_count(session: Session, hidden: tuple[str, Collection[int]] | None = None) -> int:
    """Pages still escalating: nobody has acknowledged them yet; `hidden` leaves out the
    pages about these subjects (subject type, ids), which the reader may not see."""
    query = select(func.count()).select_from(Page).where(Page.status == PageStatus.ACTIVE.value)
    if hidden is not None and hidden[1]:
        subject_type, ids = hidden
        query = query.where(~((Page.subject_type == subject_type) & Page.subject_id.in_(list(ids))))
    return session.scalar(query)


def run_step(session: Session, page: Page, at: datetime, base_url: str) -> None:
    """Fires the due level of `page`: whom to page, their notifications, the next step.

    Called by the engine inside its claim; the caller commits, so the decision and its
    outbox rows land together or not at all.
    """
    plan = targets.plan(session, page, at)
    if not plan.delays:
        end_page(session, page, PageStatus.EXHAUSTED, None, at)
        mark(session, page, "page_exhausted", f"Nobody was paged: {plan.why_nobody}", at=at)
        return
    # A level with nobody to page (a gap in the rota, a deactivated person) passes on to
    # the next one at once, as PagerDuty does: waiting out its delay would cost minutes.
    while True:
        position = escalation.Position(page.round, page.level_index)
        decided = escalation.step(plan.delays, plan.repeat, position, at)
        if decided.fires is None:
            end_page(session, page, PageStatus.EXHAUSTED, None, at)
            mark(
                session,
                page,
                "page_exhausted",
                "Paging ran out: every level was paged and nobody acknowledged",
                at=at,
            )
            return
        people = plan.people_at(decided.fires.level_index)
        level_name = f"level {decided.fires.level_index + 1}" + (
            f", round {decided.fires.round + 1}" if decided.fires.round else ""
        )
        assert decided.next is not None and decided.next_at is not None
        page.round, page.level_index = decided.next.round, decided.next.level_index
        page.next_step_at = decided.next_at
        if people:
            for person in people:
                _page_person(session, page, person, decided.fires, at, base_url)
            names = ", ".join(p.name for p in people)
            mark(session, page, "paged", f"Paged {names} ({level_name})", at=at)
            return
        mark(session, page, "paged", f"Nobody to page at {level_name}: {plan.why_nobody}", at=at)


def _page_person(
    session: Session,
    page: Page,
    person: User,
    fired: escalation.Position,
    at: datetime,
    base_url: str,
) -> None:
    key = (page.id, person.id, fired.round, fired.level_index)
    if session.get(PageRecipient, key) is not None:
        return  # already paged at this level and round
    session.add(
        PageRecipient(
            page_id=page.id,
            user_id=person.id,
            round=fired.round,
            level_index=fired.level_index,
            paged_at=at,
        )
    )
    handler = handler_of(page.subject_type)
    if handler is not None and handler.paged is not None:
        handler.paged(session, page.subject_id, person)  # they must be able to work it
    restricted = handler is not None and handler.restricted is not None
    restricted = restricted and handler.restricted(session, page.subject_id)
    link = base_url.rstrip("/") + (
        handler.path(page.subject_id, page.subject_key) if handler else "/"
    )
    can_resolve = handler is not None and handler.resolve is not None
    words = page_message(
        subject_key=page.subject_key,
        # A restricted incident's page carries its key, severity and links, never its text.
        title="restricted incident: open Tocsin to read it" if restricted else page.title,
        severity=page.severity,
        service=None if restricted else page_service_name(session, page),
        link=link,
        acknowledge_link=issue_action_link(session, page, person, "acknowledge", at, base_url),
        resolve_link=(
            issue_action_link(session, page, person, "resolve", at, base_url)
            if can_resolve
            else None
        ),
        note="" if restricted else page.message,
        paged_by=page.created_by.name if page.created_by and not restricted else None,
    )
    for reach in reaches(session, person):
        queue(
            session,
            idempotency_key=f"page:{page.id}:r{fired.round}:l{fired.level_index}:u{person.id}:"
            f"{reach.rule_id or 'default'}",
            purpose="page",
            user=person,
            channel=reach.channel,
            address=reach.address,
            label=reach.label,
            title=words.title,
            body=words.body,
            data={
                "page_id": page.id,
                "subject": page.subject_key,
                "severity": page.severity,
                "title": words.title if restricted else page.title,
                "link": link,
            },
            due_at=at + timedelta(minutes=reach.delay_minutes),
            page=page,
        )


def page_service_name(session: Session, page: Page) -> str | None:
    from tocsin.catalogue.models import Service

    service = session.get(Service, page.service_id) if page.service_id else None
    return service.name if service else None
