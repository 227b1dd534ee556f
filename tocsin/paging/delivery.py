"""Taking messages out of the outbox: leases, results, retries, and what operators watch."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.orm import Session

from tocsin.db import claim_rows
from tocsin.paging.addresses import redact_urls, redacted, without_secrets
from tocsin.paging.models import DeliveryStatus, Notification
from tocsin.timeline import service as timeline

MAX_ATTEMPTS = 8


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


# A page's notification names its step: page:<page>:r<round>:l<level>:u<person>:<rule>.
_PAGE_STEP = re.compile(r"^page:\d+:r(\d+):l(\d+):")


def _step_of(idempotency_key: str) -> tuple[int, int] | None:
    found = _PAGE_STEP.match(idempotency_key)
    return (int(found[1]), int(found[2])) if found else None


def _steps_on_their_way(
    session: Session, page_ids: Collection[int], at: datetime
) -> dict[int, list[tuple[int, int]]]:
    """The steps of these pages with a notification being sent (by anyone, alive or not) or
    due now: a later step of the same page waits for them."""
    if not page_ids:
        return {}
    query = select(Notification.page_id, Notification.idempotency_key).where(
        UNSENT,
        Notification.page_id.in_(list(page_ids)),
        or_(
            Notification.status == DeliveryStatus.SENDING.value,
            (Notification.status == DeliveryStatus.PENDING.value) & (Notification.due_at <= at),
        ),
    )
    steps: dict[int, list[tuple[int, int]]] = {}
    for page_id, key in session.execute(query):
        step = _step_of(key)
        if step is not None:
            steps.setdefault(page_id, []).append(step)
    return steps


def claim_deliveries(
    session: Session, at: datetime, limit: int, lease: timedelta = timedelta(seconds=5)
) -> list[Delivery]:
    """Leases what a worker sends now: due notifications, and ones whose lease ran out (a
    worker died sending them), up to `limit`. The caller renews the lease while sending.

    A page's later level waits while an earlier level's notification is being sent or is
    due: levels reach people in order, also when a dead worker's sends come back."""
    query = (
        select(Notification)
        .where(
            or_(
                (Notification.status == DeliveryStatus.PENDING.value) & (Notification.due_at <= at),
                and_(
                    UNSENT,
                    Notification.status == DeliveryStatus.SENDING.value,
                    Notification.lease_until <= at,
                ),
            )
        )
        .order_by(Notification.due_at, Notification.id)
        .limit(limit * 4)
    )
    candidates = claim_rows(session, query, Notification)
    waiting = _steps_on_their_way(session, {n.page_id for n in candidates if n.page_id}, at)
    claimed: list[Delivery] = []
    for n in candidates:
        if len(claimed) >= limit:
            break
        if n.status == DeliveryStatus.SENDING.value and n.attempts >= MAX_ATTEMPTS:
            # The worker of its last attempt stopped: given up, as a last failed send is.
            _settle(session, n, "the worker sending it stopped during the last attempt", at)
            continue
        step = _step_of(n.idempotency_key)
        if step is not None and any(other < step for other in waiting.get(n.page_id, ())):
            continue  # an earlier level of its page goes first
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
    """Extends the lease of a send in progress; False if another claim overtook this one.

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


def record_delivery(
    session: Session, delivery: Delivery, error: str | None, at: datetime, *, final: bool = False
) -> None:
    """The result of one send: sent, or failed and due again (or given up), on the timeline.
    A `final` failure (an address Tocsin refuses) is given up at once: no retry can mend it."""
    n = session.get(Notification, delivery.id)
    if n is None or n.status != DeliveryStatus.SENDING.value or n.attempts != delivery.attempts:
        return  # cancelled meanwhile, or this claim was overtaken after its lease ran out
    _settle(session, n, error, at, final=final)


def _settle(
    session: Session, n: Notification, error: str | None, at: datetime, *, final: bool = False
) -> None:
    who = n.user.name if n.user else redacted(n.address)
    how = n.label or n.channel
    if error is not None:  # what a library said may quote the address, secrets and all
        error = redact_urls(without_secrets(error, n.address))
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
        if n.attempts >= MAX_ATTEMPTS or final:
            n.status = DeliveryStatus.FAILED.value
            message = f"Gave up notifying {who} by {how} after {n.attempts} attempts: {error}"
            if final:
                message = f"Gave up notifying {who} by {how}: {error}"
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
    retrying_again = n.status == DeliveryStatus.PENDING.value and n.attempts > 1
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
    elif n.purpose == "stakeholders" and n.subject_type and n.subject_id:
        _mark_stakeholder_update(session, n, error, at)


def _mark_stakeholder_update(
    session: Session, n: Notification, error: str | None, at: datetime
) -> None:
    """An update's channel on the incident's timeline: its first failure and the outcome, not
    every retry. A first-try delivery adds nothing: the update's own line names the channel."""
    number = n.data.get("update")
    update = f"Stakeholder update {number}" if number else "A stakeholder update"
    channel = n.label or redacted(n.address)
    tries = f"{n.attempts} {'try' if n.attempts == 1 else 'tries'}"
    if error is None:
        if n.attempts == 1:
            return
        kind, message = "stakeholder_update_delivered", f"{update} delivered to {channel}"
        message += f" after {tries}"
    elif n.status == DeliveryStatus.FAILED.value:
        kind = "stakeholder_update_failed"
        message = f"{update} not delivered to {channel}: gave up after {tries} — {error}"
    elif n.attempts == 1:
        kind = "stakeholder_update_failed"
        message = f"{update} not delivered to {channel} yet: retrying — {error}"
    else:
        return
    data = {"notification_id": n.id, "update_id": n.data.get("update_id")}
    timeline.record(session, n.subject_type, n.subject_id, kind, message, data=data, at=at)
