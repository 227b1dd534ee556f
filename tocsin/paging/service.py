"""Paging people: contact methods and rules, escalations (pages), one-click links, the outbox.

Paging stands below alerts and incidents: they call `start_page`, `acknowledge_subject`
and `resolve_subject`. It leaves its marks on their timelines through the timeline
module, and learns how to acknowledge or resolve an alert or incident from a one-click
link through `register_subject` (the higher domain registers itself), never by
importing them.

Deciding to page and queueing the notifications happen in one transaction (the
engine's step); delivery happens later, from the outbox, with retries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from tocsin.auth import secrets
from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.db import claim_rows, now, wake_engines
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.paging import escalation, targets
from tocsin.paging.messages import page_message
from tocsin.paging.models import (
    ActionLink,
    Channel,
    ContactMethod,
    DeliveryStatus,
    Notification,
    NotificationRule,
    Page,
    PageRecipient,
    PageStatus,
)
from tocsin.paging.schemas import ContactMethodCreate, RuleIn
from tocsin.timeline import service as timeline

ACTION_LINK_TTL = timedelta(hours=24)
MAX_ATTEMPTS = 8
ACTIONS = ("acknowledge", "resolve")

# ---------------------------------------------------------------- subjects (alerts, incidents)


@dataclass(frozen=True)
class SubjectHandler:
    """How a higher domain acts on its own subject when someone uses a one-click link."""

    # Called with the page whose link was used (its subject_id names the subject).
    acknowledge: Callable[[Session, Page, User], None]
    resolve: Callable[[Session, Page, User], None] | None  # None: resolving needs more than a tap
    path: Callable[[int, str], str]  # the subject's page in the web UI, from its id and key


_subjects: dict[str, SubjectHandler] = {}


def register_subject(subject_type: str, handler: SubjectHandler) -> None:
    _subjects[subject_type] = handler


def _mark(
    session: Session,
    page: Page,
    kind: str,
    message: str,
    actor_id: int | None = None,
    at: datetime | None = None,
) -> None:
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


# ---------------------------------------------------------------- contact methods and rules


def _owner(session: Session, actor: User, user_id: int | None) -> User:
    """Whose contact settings: your own, or anyone's for an admin."""
    if user_id is None or user_id == actor.id:
        return actor
    if not actor.is_admin:
        raise Forbidden("Only admins can change someone else's contact methods.")
    return auth.get_user(session, user_id)


def contact_methods(session: Session, user: User) -> list[ContactMethod]:
    query = select(ContactMethod).where(ContactMethod.user_id == user.id).order_by(ContactMethod.id)
    return list(session.scalars(query))


def add_contact_method(
    session: Session, actor: User, data: ContactMethodCreate, user_id: int | None = None
) -> ContactMethod:
    owner = _owner(session, actor, user_id)
    method = ContactMethod(
        user=owner, channel=data.channel.value, address=data.address, label=data.label.strip()
    )
    session.add(method)
    session.flush()
    if not notification_rules(session, owner):
        # The first way to reach someone is used at once until they say otherwise.
        session.add(
            NotificationRule(user_id=owner.id, contact_method_id=method.id, delay_minutes=0)
        )
    session.commit()
    return method


def delete_contact_method(session: Session, actor: User, method_id: int) -> None:
    method = session.get(ContactMethod, method_id)
    if method is None or (method.user_id != actor.id and not actor.is_admin):
        raise NotFound(f"No contact method {method_id}.", field="contact_method_id")
    session.delete(method)
    session.commit()


def test_contact_method(session: Session, actor: User, method_id: int) -> Notification:
    """Sends a test message to one of your own contact methods, through the outbox like a
    page: a typo in an address shows now, not at 3 a.m. Its delivery shows with the rest."""
    method = session.get(ContactMethod, method_id)
    if method is None or method.user_id != actor.id:
        raise NotFound(f"No contact method {method_id}.", field="contact_method_id")
    at = now()
    notification = queue(
        session,
        idempotency_key=f"test:{method.id}:{int(at.timestamp() * 1_000_000)}",
        purpose="test",
        user=actor,
        channel=method.channel,
        address=method.address,
        label=method.label,
        title="Tocsin test: this is how a page reaches you",
        body=(
            f"Hello {actor.name}, this is a test from Tocsin to your contact method "
            f"'{method.label or method.channel}' ({method.address}). Pages reach you this way. "
            "Nothing to do."
        ),
    )
    if notification is None:  # the same microsecond twice: nothing new to send
        raise Conflict("A test is already on its way.", code="test_queued")
    session.commit()
    return notification


def notification_rules(session: Session, user: User) -> list[NotificationRule]:
    query = (
        select(NotificationRule)
        .where(NotificationRule.user_id == user.id)
        .order_by(NotificationRule.delay_minutes, NotificationRule.id)
    )
    return list(session.scalars(query))


def replace_notification_rules(
    session: Session, actor: User, rules: list[RuleIn], user_id: int | None = None
) -> list[NotificationRule]:
    owner = _owner(session, actor, user_id)
    mine = {m.id for m in contact_methods(session, owner)}
    for rule in rules:
        if rule.contact_method_id not in mine:
            raise InvalidInput(
                f"No contact method {rule.contact_method_id} of {owner.name}.",
                field="contact_method_id",
            )
    for old in notification_rules(session, owner):
        session.delete(old)
    session.flush()
    for rule in rules:
        session.add(
            NotificationRule(
                user_id=owner.id,
                contact_method_id=rule.contact_method_id,
                delay_minutes=rule.delay_minutes,
            )
        )
    session.commit()
    return notification_rules(session, owner)


@dataclass(frozen=True)
class Reach:
    channel: str
    address: str
    label: str
    delay_minutes: int
    rule_id: int | None


def reaches(session: Session, user: User) -> list[Reach]:
    """How to reach `user`, in order; their account email at once when they set up nothing."""
    rules = notification_rules(session, user)
    if not rules:
        return [Reach(Channel.EMAIL.value, user.email, "account email", 0, None)]
    return [
        Reach(
            r.contact_method.channel,
            r.contact_method.address,
            r.contact_method.label or r.contact_method.channel,
            r.delay_minutes,
            r.id,
        )
        for r in rules
    ]


# ---------------------------------------------------------------- starting and stopping pages


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
    wake_engines(session)
    who = actor.name if actor else "Tocsin"
    _mark(
        session,
        page,
        "page_started",
        f"{who} started paging: {targets.describe(session, page)}",
        actor.id if actor else None,
    )
    return page


def check_targets(session: Session, page_targets: list[dict[str, Any]]) -> None:
    """Every target exists (and people are active), or an InvalidInput naming the first."""
    for target in page_targets:
        if not targets.exists(session, target["kind"], int(target["id"])):
            raise InvalidInput(
                f"No {target['kind']} with id {target['id']} to page.", field="targets"
            )


def _end(
    session: Session, page: Page, status: PageStatus, actor: User | None, at: datetime
) -> None:
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
    _end(session, page, PageStatus.ACKNOWLEDGED, actor, moment)
    _mark(
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
        _end(session, page, PageStatus.RESOLVED, actor, moment)
        _mark(
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
    _mark(
        session, page, "page_escalated", f"{actor.name} escalated to the next level now", actor.id
    )
    wake_engines(session)  # now means now, not at the next tick
    session.commit()
    return page


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
        _end(session, page, PageStatus.EXHAUSTED, None, at)
        _mark(session, page, "page_exhausted", f"Nobody was paged: {plan.why_nobody}", at=at)
        return
    # A level with nobody to page (a gap in the rota, a deactivated person) passes on to
    # the next one at once, as PagerDuty does: waiting out its delay would cost minutes.
    while True:
        position = escalation.Position(page.round, page.level_index)
        decided = escalation.step(plan.delays, plan.repeat, position, at)
        if decided.fires is None:
            _end(session, page, PageStatus.EXHAUSTED, None, at)
            _mark(
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
            _mark(session, page, "paged", f"Paged {names} ({level_name})", at=at)
            return
        _mark(session, page, "paged", f"Nobody to page at {level_name}: {plan.why_nobody}", at=at)


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
    handler = _subjects.get(page.subject_type)
    link = base_url.rstrip("/") + (
        handler.path(page.subject_id, page.subject_key) if handler else "/"
    )
    can_resolve = handler is not None and handler.resolve is not None
    words = page_message(
        subject_key=page.subject_key,
        title=page.title,
        severity=page.severity,
        service=page_service_name(session, page),
        link=link,
        acknowledge_link=_action_link(session, page, person, "acknowledge", at, base_url),
        resolve_link=(
            _action_link(session, page, person, "resolve", at, base_url) if can_resolve else None
        ),
        note=page.message,
        paged_by=page.created_by.name if page.created_by else None,
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
                "title": page.title,
                "link": link,
            },
            due_at=at + timedelta(minutes=reach.delay_minutes),
            page=page,
        )


def page_service_name(session: Session, page: Page) -> str | None:
    from tocsin.catalogue.models import Service

    service = session.get(Service, page.service_id) if page.service_id else None
    return service.name if service else None


# ---------------------------------------------------------------- one-click links


def _action_link(
    session: Session, page: Page, person: User, action: str, at: datetime, base_url: str
) -> str:
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
    handler = _subjects.get(link.page.subject_type)
    if handler is None:
        raise Conflict("Tocsin cannot act on this kind of page.", code="unknown_subject")
    act = handler.acknowledge if link.action == "acknowledge" else handler.resolve
    if act is None:
        raise Conflict("Resolving this needs a few words; open it in Tocsin.", code="open_it")
    link.used_at = now()
    act(session, link.page, link.user)
    session.commit()
    return link


# ---------------------------------------------------------------- the outbox


def queue(
    session: Session,
    *,
    idempotency_key: str,
    purpose: str,
    channel: str,
    address: str,
    title: str,
    body: str,
    user: User | None = None,
    label: str = "",
    data: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    page: Page | None = None,
    subject: tuple[str, int] | None = None,
) -> Notification | None:
    """Adds a message to the outbox in the caller's transaction; the same key queues once."""
    existing = session.scalar(
        select(Notification).where(Notification.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return None
    if page is not None:
        subject = (page.subject_type, page.subject_id)
    notification = Notification(
        idempotency_key=idempotency_key,
        purpose=purpose,
        page_id=page.id if page else None,
        user=user,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        channel=channel,
        address=address,
        label=label[:120],  # the column's width: a long page or method name must not fail
        title=title[:300],
        body=body,
        data=data or {},
        status=DeliveryStatus.PENDING.value,
        due_at=due_at or now(),
    )
    session.add(notification)
    if notification.due_at <= now():
        wake_engines(session)
    return notification


QUEUE_CHUNK = 500


# PostgreSQL: one array parameter, each key probed through the unique index. An IN list of
# hundreds of parameters gets a generic plan once psycopg prepares it, and before the
# outbox has statistics that plan scans every row for every key (seconds for 5,000).
QUEUED_KEYS_PG = text(
    "SELECT key FROM unnest(CAST(:keys AS text[])) AS key"
    " WHERE EXISTS (SELECT 1 FROM notifications WHERE idempotency_key = key)"
)


def queued_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these idempotency keys are in the outbox already."""
    if session.bind.dialect.name == "postgresql":
        return set(session.scalars(QUEUED_KEYS_PG, {"keys": keys})) if keys else set()
    taken: set[str] = set()
    for start in range(0, len(keys), QUEUE_CHUNK):
        chunk = keys[start : start + QUEUE_CHUNK]
        found = select(Notification.idempotency_key).where(Notification.idempotency_key.in_(chunk))
        taken.update(session.scalars(found))
    return taken


def queue_many(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """`queue` for a crowd (a status page's subscribers): each row holds `queue`'s keyword
    arguments, without `user` and `page`. Rows whose key was queued before are skipped; a
    few statements in all, however many rows. Returns the new rows' ids by key."""
    taken = queued_keys(session, [row["idempotency_key"] for row in rows])
    at = now()
    fresh = []
    for row in rows:
        key = row["idempotency_key"]
        if key in taken:
            continue
        taken.add(key)
        subject = row.get("subject")
        fresh.append(
            {
                "idempotency_key": key,
                "purpose": row["purpose"],
                "subject_type": subject[0] if subject else None,
                "subject_id": subject[1] if subject else None,
                "channel": row["channel"],
                "address": row["address"],
                "label": row.get("label", "")[:120],
                "title": row["title"][:300],
                "body": row["body"],
                "data": row.get("data") or {},
                "status": DeliveryStatus.PENDING.value,
                "due_at": row.get("due_at") or at,
            }
        )
    if not fresh:
        return {}
    query = insert(Notification).returning(Notification.id, Notification.idempotency_key)
    ids = {key: id_ for id_, key in session.execute(query, fresh)}
    if any(row["due_at"] <= at for row in fresh):
        wake_engines(session)
    return ids


def notify_user(
    session: Session,
    user: User,
    *,
    key: str,
    title: str,
    body: str,
    purpose: str,
    subject: tuple[str, int] | None = None,
) -> int:
    """Tells someone something (not a page): through their immediate contact methods."""
    queued = 0
    for reach in reaches(session, user):
        if reach.delay_minutes == 0 and queue(
            session,
            idempotency_key=f"{key}:u{user.id}:{reach.rule_id or 'default'}",
            purpose=purpose,
            user=user,
            channel=reach.channel,
            address=reach.address,
            label=reach.label,
            title=title,
            body=body,
            subject=subject,
        ):
            queued += 1
    return queued


@dataclass(frozen=True)
class Delivery:
    """A claimed notification, detached from the session for sending."""

    id: int
    idempotency_key: str
    channel: str
    address: str
    title: str
    body: str
    data: dict[str, Any]
    attempts: int


# Literal, so that both databases read it from the index with the same predicate (0010).
UNSENT = text("notifications.status IN ('pending', 'sending', 'failed')")


@dataclass(frozen=True)
class OutboxCounts:
    """The outbox as an operator watches it: waiting, being sent, retrying, given up."""

    pending: int = 0
    sending: int = 0
    failed: int = 0
    retrying: int = 0  # pending after at least one failed attempt


def outbox_counts(session: Session) -> OutboxCounts:
    query = (
        select(
            Notification.status,
            func.count(),
            func.sum(case((Notification.attempts > 0, 1), else_=0)),
        )
        .where(UNSENT)
        .group_by(Notification.status)
    )
    counts = {status: (n, retried or 0) for status, n, retried in session.execute(query)}
    pending, retrying = counts.get(DeliveryStatus.PENDING.value, (0, 0))
    return OutboxCounts(
        pending=pending,
        sending=counts.get(DeliveryStatus.SENDING.value, (0, 0))[0],
        failed=counts.get(DeliveryStatus.FAILED.value, (0, 0))[0],
        retrying=retrying,
    )


def delivery_problems(session: Session, limit: int = 25) -> list[Notification]:
    """Notifications that failed at least once and are not yet sent, newest first."""
    query = (
        select(Notification)
        .where(
            UNSENT,
            or_(Notification.status == DeliveryStatus.FAILED.value, Notification.attempts > 0),
            Notification.status != DeliveryStatus.SENDING.value,
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def oldest_due_delivery(session: Session, at: datetime) -> datetime | None:
    """When the longest-waiting due notification fell due (or its sender's lease ran out)."""
    pending = session.scalar(
        select(func.min(Notification.due_at)).where(
            Notification.status == DeliveryStatus.PENDING.value, Notification.due_at <= at
        )
    )
    abandoned = session.scalar(
        select(func.min(Notification.lease_until)).where(
            UNSENT,  # lets SQLite read the few unsent rows from their index, not the outbox
            Notification.status == DeliveryStatus.SENDING.value,
            Notification.lease_until <= at,
        )
    )
    return min((t for t in (pending, abandoned) if t is not None), default=None)


def claim_deliveries(
    session: Session, at: datetime, limit: int, lease: timedelta = timedelta(minutes=2)
) -> list[Delivery]:
    """Leases due notifications (and ones whose lease ran out: a worker died sending them)."""
    query = (
        select(Notification)
        .where(
            or_(
                (Notification.status == DeliveryStatus.PENDING.value) & (Notification.due_at <= at),
                (Notification.status == DeliveryStatus.SENDING.value)
                & (Notification.lease_until <= at),
            )
        )
        .order_by(Notification.due_at, Notification.id)
        .limit(limit)
    )
    claimed = []
    for n in claim_rows(session, query, Notification):
        n.status = DeliveryStatus.SENDING.value
        n.lease_until = at + lease
        n.attempts += 1
        claimed.append(
            Delivery(
                n.id,
                n.idempotency_key,
                n.channel,
                n.address,
                n.title,
                n.body,
                dict(n.data),
                n.attempts,
            )
        )
    return claimed


def renew_lease(session: Session, delivery: Delivery, at: datetime, lease: timedelta) -> bool:
    """Takes the lease again just before sending; False if another claim overtook this one.

    The attempt number is the fencing token: a worker whose lease ran out (and was
    reclaimed) finds a newer attempt and does not send.
    """
    renewed = session.execute(
        update(Notification)
        .where(
            Notification.id == delivery.id,
            Notification.status == DeliveryStatus.SENDING.value,
            Notification.attempts == delivery.attempts,
        )
        .values(lease_until=at + lease)
    )
    return renewed.rowcount == 1


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 15 min."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 15 * 60))


def record_delivery(session: Session, delivery: Delivery, error: str | None, at: datetime) -> None:
    """The result of one send: sent, or failed and due again (or given up), on the timeline."""
    n = session.get(Notification, delivery.id)
    if n is None or n.status != DeliveryStatus.SENDING.value or n.attempts != delivery.attempts:
        return  # cancelled meanwhile, or this claim was overtaken after its lease ran out
    who = n.user.name if n.user else n.address
    how = n.label or n.channel
    if error is None:
        n.status = DeliveryStatus.SENT.value
        n.sent_at = at
        n.lease_until = None
        n.last_error = ""
        message = f"Notified {who} by {how}"
        kind = "notified"
    else:
        n.last_error = error[:2000]
        n.lease_until = None
        if n.attempts >= MAX_ATTEMPTS:
            n.status = DeliveryStatus.FAILED.value
            message = f"Gave up notifying {who} by {how} after {n.attempts} attempts: {error}"
        else:
            n.status = DeliveryStatus.PENDING.value
            n.due_at = at + retry_delay(n.attempts)
            message = (
                f"Notifying {who} by {how} failed (attempt {n.attempts}), retrying at "
                f"{n.due_at:%H:%M:%S} UTC and on with backoff: {error}"
            )
        kind = "notification_failed"
    # The first failure and the outcome go on the timeline; the retries between them would
    # bury what people wrote (the Paging card and the person's notifications show them).
    retrying_again = error is not None and 1 < n.attempts < MAX_ATTEMPTS
    if n.subject_type and n.subject_id and n.purpose == "page" and not retrying_again:
        timeline.record(
            session,
            n.subject_type,
            n.subject_id,
            kind,
            message,
            data={"notification_id": n.id, "page_id": n.page_id},
            at=at,
        )


def notifications_of(session: Session, actor: User, user_id: int | None = None, limit: int = 100):
    owner = _owner(session, actor, user_id)
    query = (
        select(Notification)
        .where(Notification.user_id == owner.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
