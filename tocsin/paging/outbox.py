"""Putting messages in the outbox, in the caller's transaction, each idempotency key once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.db import now, wake_engines
from tocsin.paging.models import DeliveryStatus, Notification, Page


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
