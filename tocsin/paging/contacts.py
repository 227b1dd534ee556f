"""How to reach a person: their contact methods, notification rules and notifications."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.db import now
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.paging.addresses import redacted
from tocsin.paging.models import Channel, ContactMethod, Notification, NotificationRule
from tocsin.paging.outbox import queue
from tocsin.paging.schemas import ContactMethodCreate, NotificationQuery, RuleIn


def _owner(session: Session, actor: User, user_id: int | None) -> User:
    """Whose contact settings: your own, or anyone's for an admin."""
    if user_id is None or user_id == actor.id:
        return actor
    if not actor.is_admin:
        raise Forbidden("Only admins can see or change someone else's contact methods and rules.")
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


def contact_methods_of(session: Session, actor: User, user_id: int) -> list[ContactMethod]:
    """Someone's contact methods: your own, or anyone's for an admin (moving a team in)."""
    return contact_methods(session, _owner(session, actor, user_id))


def notification_rules_of(session: Session, actor: User, user_id: int) -> list[NotificationRule]:
    return notification_rules(session, _owner(session, actor, user_id))


def delete_contact_method(
    session: Session, actor: User, method_id: int, user_id: int | None = None
) -> None:
    """Yours, or (an admin) anyone's; with `user_id`, only if it is that person's."""
    owner_id = _owner(session, actor, user_id).id if user_id is not None else None
    method = session.get(ContactMethod, method_id)
    if (
        method is None
        or (method.user_id != actor.id and not actor.is_admin)
        or (owner_id is not None and method.user_id != owner_id)
    ):
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
            f"'{method.label or method.channel}' ({redacted(method.address)}). "
            "Pages reach you this way. Nothing to do."
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


def notification_page(
    session: Session, actor: User, query: NotificationQuery
) -> tuple[list[Notification], str | None]:
    """One page of what was sent to `actor`, newest first, and the cursor of the next."""
    found = select(Notification).where(Notification.user_id == actor.id)
    if query.cursor:
        found = found.where(Notification.id < int(query.cursor))
    rows = list(session.scalars(found.order_by(Notification.id.desc()).limit(query.limit + 1)))
    page = rows[: query.limit]
    return page, (str(page[-1].id) if len(rows) > query.limit else None)


def notifications_of(session: Session, actor: User, user_id: int | None = None, limit: int = 100):
    owner = _owner(session, actor, user_id)
    query = (
        select(Notification)
        .where(Notification.user_id == owner.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
