"""Status page subscribers: who hears about incidents and maintenance, and telling them.

People subscribe by email from the public page (double opt-in: only a confirmed
address is told anything) or are added by a responder, by email or as a webhook. A
subscriber follows the whole page or chosen components. Each event queues one outbox
notification per matching confirmed subscriber in the caller's transaction (the
status page service's own), so the delivery engine sends it, retries it and records
the outcome, which the admin page shows.

Every mail carries its own one-click unsubscribe link (RFC 8058 headers too); only
the link's digest is stored.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin, require_responder
from tocsin.config import get_settings
from tocsin.db import claim_rows, now
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.paging import service as paging
from tocsin.paging.addresses import redacted
from tocsin.paging.models import Channel, Notification
from tocsin.statuspage import form_guard, snapshot, v2, workflow
from tocsin.statuspage.models import (
    Component,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    PublicIncident,
    StatusPage,
    Subscriber,
    SubscriberComponent,
    SubscriberLink,
)
from tocsin.statuspage.schemas import SubscriberCreate, SubscriberKind
from tocsin.statuspage.workflow import IncidentStatus, MaintenanceStatus

PURPOSE = "subscriber"
LINK_PREFIX = "sub"
REMIND_BEFORE = timedelta(minutes=60)
# One confirmation mail per address per this long, however often the form is sent, and at
# most MAILS_A_DAY a day: a stranger sending the form cannot flood someone's inbox.
CONFIRMATION_EVERY = timedelta(minutes=10)
MAILS_A_DAY = 3
MAX_FORM_COMPONENTS = 200
WEBHOOK_DOCUMENTATION = (
    "https://support.atlassian.com/statuspage/docs/enable-webhook-notifications/"
)

_base_url: str | None = None


def use_base_url(base_url: str) -> None:
    """Where links in mails point; the app sets it from its settings at start."""
    global _base_url
    _base_url = base_url.rstrip("/")


def _base() -> str:
    return _base_url or get_settings().base_url.rstrip("/")


def _page_link(page: StatusPage, path: str = "") -> str:
    return f"{_base()}/status/{page.slug}{path}"


# ---------------------------------------------------------------- reading


def list_subscribers(session: Session, actor: User, page_id: int) -> list[Subscriber]:
    require_responder(actor, "see status page subscribers")
    query = select(Subscriber).where(Subscriber.page_id == page_id).order_by(Subscriber.id)
    return list(session.scalars(query))


def count(session: Session, page_id: int) -> int:
    query = select(func.count()).select_from(Subscriber).where(Subscriber.page_id == page_id)
    return session.scalar(query) or 0


def last_deliveries(session: Session, subscribers: Iterable[Subscriber]) -> dict[int, Notification]:
    """Each subscriber's latest notification, by subscriber id (with its delivery state)."""
    wanted = {s.last_notification_id: s.id for s in subscribers if s.last_notification_id}
    if not wanted:
        return {}
    found = session.scalars(select(Notification).where(Notification.id.in_(wanted)))
    return {wanted[n.id]: n for n in found}


def overview(session: Session, actor: User, page_id: int) -> list[dict[str, Any]]:
    """The page's subscribers with what they follow and how their latest delivery went."""
    page = _page(session, page_id)
    found = list_subscribers(session, actor, page.id)
    last = last_deliveries(session, found)
    names = _component_names(session, page)
    return [
        {
            "id": s.id,
            "page_id": s.page_id,
            "kind": s.kind,
            "address": redacted(s.address),
            "component_ids": [link.component_id for link in s.components],
            "components": [names[c.component_id] for c in s.components if c.component_id in names],
            "confirmed_at": s.confirmed_at,
            "created_at": s.created_at,
            "last_delivery": last.get(s.id),
        }
        for s in found
    ]


def component_names(session: Session, subscriber: Subscriber) -> list[str]:
    ids = [link.component_id for link in subscriber.components]
    if not ids:
        return []
    query = select(Component).where(Component.id.in_(ids)).order_by(Component.position)
    return [c.name for c in session.scalars(query)]


def _get(session: Session, page: StatusPage, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.page_id != page.id:
        raise NotFound(f"No subscriber {subscriber_id} on {page.name}.", field="subscriber_id")
    return subscriber


def _page(session: Session, page_id: int) -> StatusPage:
    page = session.get(StatusPage, page_id)
    if page is None:
        raise NotFound(f"No status page with id {page_id}.", field="page_id")
    return page


def _existing(session: Session, page: StatusPage, kind: str, address: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(
            Subscriber.page_id == page.id, Subscriber.kind == kind, Subscriber.address == address
        )
    )


def _components_by_id(session: Session, page: StatusPage, ids: Iterable[int]) -> list[Component]:
    chosen = []
    for component_id in dict.fromkeys(ids):
        component = session.get(Component, component_id)
        if component is None or component.page_id != page.id:
            raise InvalidInput(
                f"No component {component_id} on {page.name}.", field="component_ids"
            )
        chosen.append(component)
    return chosen


def _components_by_code(
    session: Session, page: StatusPage, codes: Iterable[str]
) -> list[Component]:
    """The public form names components by their public codes; unknown ones are ignored."""
    wanted = {c for c in list(codes)[:MAX_FORM_COMPONENTS] if c.isalnum() and len(c) <= 12}
    if not wanted:
        return []
    query = select(Component).where(Component.page_id == page.id, Component.code.in_(wanted))
    return list(session.scalars(query))


# ---------------------------------------------------------------- subscribing


def add_subscriber(
    session: Session, actor: User, page_id: int, data: SubscriberCreate
) -> Subscriber:
    """A responder adds a webhook (confirmed at once) or an email address (asked to confirm,
    unless they already agreed elsewhere)."""
    require_responder(actor, "add status page subscribers")
    page = _page(session, page_id)
    if _existing(session, page, data.kind.value, data.address) is not None:
        raise Conflict(
            f"{redacted(data.address)} is already subscribed to {page.name}.", field="address"
        )
    components = _components_by_id(session, page, data.component_ids)
    at = now()
    confirmed = data.kind is SubscriberKind.WEBHOOK or data.skip_confirmation
    subscriber = Subscriber(
        page_id=page.id,
        kind=data.kind.value,
        address=data.address,
        confirmed_at=at if confirmed else None,
        created_at=at,
        components=[SubscriberComponent(component_id=c.id) for c in components],
    )
    session.add(subscriber)
    taken = Conflict(
        f"{redacted(data.address)} is already subscribed to {page.name}.", field="address"
    )
    try:
        session.flush()
    except IntegrityError:  # the same address, added at the same moment
        session.rollback()
        raise taken from None
    if not confirmed:
        _ask_to_confirm(session, page, subscriber, components, at)
    audit.record(
        session,
        actor.id,
        "status_page.subscriber_added",
        "status_page",
        page.id,
        f"Subscriber {redacted(data.address)} ({data.kind.value}) added to {page.name}",
        {"components": [c.name for c in components], "confirmed": confirmed},
    )
    session.commit()
    return subscriber


def subscribe(
    session: Session,
    page: StatusPage,
    address: str,
    component_codes: Iterable[str],
    sender: form_guard.Sender | None = None,
) -> None:
    """The public form: sends a confirmation mail, or (already confirmed) a reminder of how to
    unsubscribe. The caller answers the same whatever happened, so the form never tells who
    is subscribed; at most one mail per address per `CONFIRMATION_EVERY`, and a `sender`
    over their or the page's limit is refused (TooManyAttempts) before anything is written."""
    if sender is not None:
        form_guard.count_send(session, sender.limits(page), now())
    try:
        _subscribe(session, page, address, component_codes)
        session.commit()
    except IntegrityError:
        # The same address sent at the same moment (a double tap): that request mails them.
        session.rollback()


def _subscribe(
    session: Session, page: StatusPage, address: str, component_codes: Iterable[str]
) -> None:
    at = now()
    components = _components_by_code(session, page, component_codes)
    subscriber = _existing(session, page, SubscriberKind.EMAIL.value, address)
    if subscriber is None:
        subscriber = Subscriber(
            page_id=page.id, kind=SubscriberKind.EMAIL.value, address=address, created_at=at
        )
        session.add(subscriber)
    if subscriber.confirmed_at is None:
        # Until confirmed, the latest form wins: the address owner has not agreed to anything yet.
        subscriber.components = [SubscriberComponent(component_id=c.id) for c in components]
        session.flush()
        if _form_mails_today(session, subscriber, at) < MAILS_A_DAY:
            _ask_to_confirm(session, page, subscriber, components, at)
    elif _form_mails_today(session, subscriber, at) < MAILS_A_DAY:
        _tell_already_subscribed(session, page, subscriber, at)


def _form_mails_today(session: Session, subscriber: Subscriber, at: datetime) -> int:
    """How many mails the public form sent this subscriber in the last day (found by their
    exact keys, one per window, so the outbox's unique index answers)."""
    last = _window(at)
    windows = range(last - int(timedelta(days=1) / CONFIRMATION_EVERY) + 1, last + 1)
    keys = [
        f"status-{kind}:{_who(subscriber)}:{w}" for kind in ("confirm", "already") for w in windows
    ]
    return len(paging.queued_keys(session, keys))


def _who(subscriber: Subscriber) -> str:
    """A subscriber in idempotency keys: its id and creation time, as SQLite gives a deleted
    row's id to the next one (an unsubscribed reader's keys must not silence a new one)."""
    return f"s{subscriber.id}.{subscriber.created_at:%Y%m%d%H%M%S%f}"


def _window(at: datetime) -> int:
    return int(at.timestamp() // CONFIRMATION_EVERY.total_seconds())


def _what(page: StatusPage, names: list[str]) -> str:
    return f"{page.name}: {', '.join(names)}" if names else f"all of {page.name}"


def _ask_to_confirm(
    session: Session,
    page: StatusPage,
    subscriber: Subscriber,
    components: list[Component],
    at: datetime,
) -> None:
    def body(token: str) -> str:
        return (
            f"Someone (we hope you) asked to be told about incidents and maintenance of "
            f"{_what(page, [c.name for c in components])}.\n\n"
            f"Confirm your subscription:\n{_page_link(page, f'/subscriptions/{token}/confirm')}\n\n"
            "If it was not you, ignore this mail: nothing will be sent without your "
            "confirmation."
        )

    _queue(
        session,
        page,
        [_Mail(subscriber, f"status-confirm:{_who(subscriber)}:{_window(at)}", body)],
        title=f"Confirm your subscription to {page.name} status",
        unsubscribe_header=False,
    )


def _tell_already_subscribed(
    session: Session, page: StatusPage, subscriber: Subscriber, at: datetime
) -> None:
    def body(token: str) -> str:
        return (
            f"Someone asked to subscribe this address to {page.name} status updates, but it is "
            "already subscribed.\n\nTo change what you follow, unsubscribe and subscribe "
            f"again:\n{_page_link(page, f'/subscriptions/{token}/unsubscribe')}"
        )

    _queue(
        session,
        page,
        [_Mail(subscriber, f"status-already:{_who(subscriber)}:{_window(at)}", body)],
        title=f"You are subscribed to {page.name} status",
    )


def remove_subscriber(session: Session, actor: User, page_id: int, subscriber_id: int) -> None:
    require_admin(actor, "remove status page subscribers")
    page = _page(session, page_id)
    subscriber = _get(session, page, subscriber_id)
    audit.record(
        session,
        actor.id,
        "status_page.subscriber_removed",
        "status_page",
        page.id,
        f"Subscriber {redacted(subscriber.address)} removed from {page.name}",
    )
    session.delete(subscriber)
    session.commit()


# ---------------------------------------------------------------- links in mails


def by_link(session: Session, page: StatusPage, token: str) -> Subscriber:
    """The subscriber a mailed link belongs to; the same answer for any wrong or old link."""
    gone = NotFound(
        "This link does not work (any more). If you unsubscribed, there is nothing else to do.",
        field="token",
    )
    parts = secrets.split_keyed_secret(token, LINK_PREFIX)
    if parts is None:
        raise gone
    lookup, secret = parts
    link = session.scalar(select(SubscriberLink).where(SubscriberLink.lookup == lookup))
    if link is None or not secrets.same_secret(secret, link.secret_hash):
        raise gone
    subscriber = session.get(Subscriber, link.subscriber_id)
    if subscriber is None or subscriber.page_id != page.id:
        raise gone
    return subscriber


def confirm(session: Session, page: StatusPage, token: str) -> Subscriber:
    subscriber = by_link(session, page, token)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now()
        session.commit()
    return subscriber


def unsubscribe(session: Session, page: StatusPage, token: str) -> str:
    """Forgets the subscriber (and every link they were sent); returns their address."""
    subscriber = by_link(session, page, token)
    address = subscriber.address
    session.delete(subscriber)
    session.commit()
    return address


# ---------------------------------------------------------------- telling subscribers


def _audience(session: Session, page_id: int, component_ids: set[int]) -> list[Subscriber]:
    """Confirmed subscribers who follow the whole page or one of these components. An event
    that names no component concerns everyone."""
    query = (
        select(Subscriber)
        .where(Subscriber.page_id == page_id, Subscriber.confirmed_at.is_not(None))
        .order_by(Subscriber.id)
    )
    chosen = []
    for subscriber in session.scalars(query):
        follows = {link.component_id for link in subscriber.components}
        if not follows or not component_ids or follows & component_ids:
            chosen.append(subscriber)
    return chosen


@dataclass(frozen=True)
class _Mail:
    """One subscriber's notification: its idempotency key, and its text given their link."""

    subscriber: Subscriber
    key: str
    body: Callable[[str], str]


def _queue(
    session: Session,
    page: StatusPage,
    mails: list[_Mail],
    *,
    title: str,
    payload: dict[str, Any] | None = None,
    subject: tuple[str, int] | None = None,
    unsubscribe_header: bool = True,
    due_at: datetime | None = None,
) -> int:
    """One notification per subscriber, each with its own unsubscribe link; once per key.

    In bulk (a few statements for thousands of subscribers), so that telling a big page's
    subscribers stays quick inside the request that posts the update."""
    taken = paging.queued_keys(session, [mail.key for mail in mails])
    mails = [mail for mail in mails if mail.key not in taken]
    if not mails:
        return 0
    at = now()
    links, rows = [], []
    for mail in mails:
        token, lookup, digest = secrets.new_keyed_secret(LINK_PREFIX)
        links.append(
            {
                "subscriber_id": mail.subscriber.id,
                "lookup": lookup,
                "secret_hash": digest,
                "created_at": at,
            }
        )
        row = _row(page, mail, token, title, payload, subject, unsubscribe_header)
        rows.append({**row, "due_at": due_at} if due_at else row)
    session.execute(insert(SubscriberLink), links)
    ids = paging.queue_many(session, rows)
    for mail in mails:
        if mail.key in ids:
            mail.subscriber.last_notification_id = ids[mail.key]
    return len(ids)


def _row(
    page: StatusPage,
    mail: _Mail,
    token: str,
    title: str,
    payload: dict[str, Any] | None,
    subject: tuple[str, int] | None,
    unsubscribe_header: bool,
) -> dict[str, Any]:
    """The outbox row (`paging.queue`'s arguments) of one subscriber's notification."""
    unsubscribe_url = _page_link(page, f"/subscriptions/{token}/unsubscribe")
    text = mail.body(token)
    if mail.subscriber.kind == SubscriberKind.WEBHOOK.value:
        channel = Channel.WEBHOOK.value
        data: dict[str, Any] = {**(payload or {}), "meta": _meta(unsubscribe_url)}
    else:
        channel = Channel.EMAIL.value
        data = {}
        if unsubscribe_header:
            text += f"\n\n--\nUnsubscribe with one click: {unsubscribe_url}"
            data["email_headers"] = {
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
    return {
        "idempotency_key": mail.key,
        "purpose": PURPOSE,
        "channel": channel,
        "address": mail.subscriber.address,
        "label": f"{page.name} subscriber",
        "title": title,
        "body": text,
        "data": data,
        "subject": subject,
    }


def _meta(unsubscribe_url: str) -> dict[str, str]:
    return {"unsubscribe": unsubscribe_url, "documentation": WEBHOOK_DOCUMENTATION}


def _statuspage_payload(session: Session, page: StatusPage, code: str) -> dict[str, Any]:
    """Atlassian Statuspage's webhook notification: `page` and `incident` (a maintenance is an
    incident with impact "maintenance"); `meta` is added per subscriber."""
    session.flush()
    snap = snapshot.load(session, page.id, _base(), now())
    item = snapshot.one_incident(session, page.id, code)
    if isinstance(item, snapshot.MaintenanceView):
        incident = v2.maintenance_of(snap, item)
    else:
        incident = v2.incident_of(snap, item)
    indicator = v2.indicator_of(snap)
    return {
        "page": {
            "id": page.code,
            "status_indicator": indicator.indicator.value,
            "status_description": indicator.description,
        },
        "incident": incident,
    }


def _footer(page: StatusPage, subscriber: Subscriber, names: dict[int, str]) -> str:
    follows = [names.get(link.component_id, "") for link in subscriber.components]
    return f"You get this because you follow {_what(page, [n for n in follows if n])}."


def _footed_mails(
    page: StatusPage,
    audience: list[Subscriber],
    key: str,
    parts: list[str],
    names: dict[int, str],
) -> list[_Mail]:
    """One mail each: the same text, then a footer saying what that subscriber follows."""
    text = "\n\n".join(parts)

    def body_for(subscriber: Subscriber) -> Callable[[str], str]:
        return lambda _token: f"{text}\n\n{_footer(page, subscriber, names)}"

    return [_Mail(s, f"{key}:{_who(s)}", body_for(s)) for s in audience]


def _component_names(session: Session, page: StatusPage) -> dict[int, str]:
    query = select(Component.id, Component.name).where(Component.page_id == page.id)
    return {row.id: row.name for row in session.execute(query)}


def plan_for_update(
    session: Session, page: StatusPage, incident: PublicIncident, update: IncidentUpdate
) -> dict[str, Any]:
    """What subscribers hear of `update`, fixed when it is posted: the components it concerns
    (followers of any of them are told) and, when the page has webhook subscribers, the
    Statuspage webhook document as the page stands right after the update."""
    affected = {link.component_id for link in incident.components} | {
        a.component_id for a in update.affected if a.component_id
    }
    hooks = select(Subscriber.id).where(
        Subscriber.page_id == page.id,
        Subscriber.kind == SubscriberKind.WEBHOOK.value,
        Subscriber.confirmed_at.is_not(None),
    )
    has_hooks = session.scalar(select(hooks.exists()))
    return {
        "components": sorted(affected),
        "webhook": _statuspage_payload(session, page, incident.code) if has_hooks else None,
    }


def incident_updated(
    session: Session,
    page: StatusPage,
    incident: PublicIncident,
    update: IncidentUpdate,
    at: datetime | None = None,
) -> int:
    """Tells subscribers about a new update (the first one too) whose `notify` is set; the
    notifications are due at `at` (now by default)."""
    if not update.notify:
        return 0
    plan = update.subscriber_plan or plan_for_update(session, page, incident, update)
    audience = _audience(session, page.id, set(plan["components"]))
    if not audience:
        return 0
    label = workflow.INCIDENT_LABEL[IncidentStatus(update.status)]
    names = _component_names(session, page)
    changes = [
        f"- {a.name}: {workflow.COMPONENT_LABEL[workflow.ComponentStatus(a.new_status)]}"
        for a in update.affected
    ]
    link = _page_link(page, f"/incidents/{incident.code}")
    title = f"[{page.name}] {incident.name}: {label}"
    payload = plan["webhook"] or {}

    parts = [f"{label}: {incident.name}", update.body]
    if changes:
        parts.append("Components:\n" + "\n".join(changes))
    parts.append(f"Follow it on the status page: {link}")
    mails = _footed_mails(page, audience, f"status-update:{update.code}", parts, names)
    return _queue(
        session,
        page,
        mails,
        title=title,
        payload=payload,
        subject=("status_incident", incident.id),
        due_at=at,
    )


def _any_webhook(audience: list[Subscriber]) -> bool:
    return any(s.kind == SubscriberKind.WEBHOOK.value for s in audience)


def _maintenance_notice(
    session: Session,
    page: StatusPage,
    maintenance: Maintenance,
    *,
    key: str,
    title: str,
    lead: str,
    due_at: datetime | None = None,
    components_label: str = "Components under maintenance",
) -> int:
    audience = _audience(session, page.id, {link.component_id for link in maintenance.components})
    if not audience:
        return 0
    names = _component_names(session, page)
    under = [
        names[link.component_id] for link in maintenance.components if link.component_id in names
    ]
    when = _local_window(page, maintenance)
    link = _page_link(page, f"/incidents/{maintenance.code}")
    payload = _statuspage_payload(session, page, maintenance.code) if _any_webhook(audience) else {}

    parts = [lead, f"{maintenance.name}\n{when}"]
    if under:
        parts.append(f"{components_label}: " + ", ".join(under))
    parts.append(f"Details: {link}")
    mails = _footed_mails(page, audience, key, parts, names)
    return _queue(
        session,
        page,
        mails,
        title=title,
        payload=payload,
        subject=("maintenance", maintenance.id),
        due_at=due_at,
    )


def _local_window(page: StatusPage, maintenance: Maintenance) -> str:
    zone = ZoneInfo(page.time_zone)
    start = maintenance.scheduled_for.astimezone(zone)
    end = maintenance.scheduled_until.astimezone(zone)
    return f"{start:%a %b %d, %H:%M} to {end:%a %b %d, %H:%M %Z}"


def maintenance_scheduled(
    session: Session,
    maintenance: Maintenance,
    update: MaintenanceUpdate,
    at: datetime | None = None,
) -> int:
    """The notice that a maintenance is planned, when it is created (Statuspage's habit)."""
    if not update.notify:
        return 0
    page = _page(session, maintenance.page_id)
    return _maintenance_notice(
        session,
        page,
        maintenance,
        key=f"status-maintenance-scheduled:{maintenance.code}",
        title=f"[{page.name}] Maintenance scheduled: {maintenance.name}",
        lead=update.body or "Maintenance is scheduled.",
        due_at=at,
        components_label="Components it concerns",
    )


def maintenance_started(
    session: Session,
    maintenance: Maintenance,
    update: MaintenanceUpdate,
    at: datetime | None = None,
) -> int:
    if not update.notify:
        return 0
    page = _page(session, maintenance.page_id)
    return _maintenance_notice(
        session,
        page,
        maintenance,
        key=f"status-maintenance-start:{maintenance.code}",
        title=f"[{page.name}] Maintenance in progress: {maintenance.name}",
        lead=update.body or "Scheduled maintenance is in progress.",
        due_at=at,
    )


def maintenance_completed(
    session: Session,
    maintenance: Maintenance,
    update: MaintenanceUpdate,
    at: datetime | None = None,
) -> int:
    """The notice that a maintenance is over (or called off before it began)."""
    if not update.notify:
        return 0
    page = _page(session, maintenance.page_id)
    return _maintenance_notice(
        session,
        page,
        maintenance,
        key=f"status-maintenance-completed:{maintenance.code}",
        title=f"[{page.name}] Maintenance completed: {maintenance.name}",
        lead=update.body or "The scheduled maintenance has been completed.",
        due_at=at,
        components_label="Components it concerned",
    )


MAINTENANCE_NOTICES = {
    MaintenanceStatus.SCHEDULED: maintenance_scheduled,
    MaintenanceStatus.IN_PROGRESS: maintenance_started,
    MaintenanceStatus.VERIFYING: maintenance_started,
    MaintenanceStatus.COMPLETED: maintenance_completed,
}


# ---------------------------------------------------------------- the engine's part


def due_reminders(session: Session, at: datetime, limit: int) -> list[Maintenance]:
    """Scheduled maintenances starting within the hour whose subscribers were not reminded,
    locked so that several workers share them out."""
    query = (
        select(Maintenance)
        .where(
            Maintenance.status == MaintenanceStatus.SCHEDULED.value,
            Maintenance.remind_subscribers.is_(True),
            Maintenance.reminded_at.is_(None),
            Maintenance.scheduled_for <= at + REMIND_BEFORE,
        )
        .order_by(Maintenance.scheduled_for, Maintenance.id)
        .limit(limit)
    )
    return claim_rows(session, query, Maintenance)


def _announced_within_the_hour(maintenance: Maintenance) -> bool:
    """Whether the notice that it is scheduled went out less than an hour before its start."""
    first = min(maintenance.updates, key=lambda u: (u.created_at, u.id), default=None)
    return (
        first is not None
        and first.status == MaintenanceStatus.SCHEDULED.value
        and first.notify
        and first.created_at > maintenance.scheduled_for - REMIND_BEFORE
    )


def remind(session: Session, maintenance: Maintenance, at: datetime) -> int:
    """Reminds subscribers once, in the caller's transaction; a window whose start has
    already come gets no reminder (its start is announced instead), nor one scheduled within
    the hour (the notice that it is scheduled says the same)."""
    maintenance.reminded_at = at
    if maintenance.scheduled_for <= at or _announced_within_the_hour(maintenance):
        return 0
    page = _page(session, maintenance.page_id)
    stamp = int(maintenance.scheduled_for.timestamp())
    return _maintenance_notice(
        session,
        page,
        maintenance,
        key=f"status-maintenance-remind:{maintenance.code}:{stamp}",
        title=f"[{page.name}] Reminder: maintenance starts soon: {maintenance.name}",
        lead="Scheduled maintenance starts within the hour.",
    )


UNTOLD_INCIDENT_UPDATES = text("status_incident_updates.subscribers_told_at IS NULL")
UNTOLD_MAINTENANCE_UPDATES = text("status_maintenance_updates.subscribers_told_at IS NULL")


def untold_updates(
    session: Session, limit: int, skip: Collection[int] = ()
) -> list[IncidentUpdate]:
    """Posted updates whose subscribers are not told yet, oldest first (but for `skip`,
    ones that just failed), locked so that one worker tells each: the claim and the
    notifications commit together."""
    return _untold(session, IncidentUpdate, UNTOLD_INCIDENT_UPDATES, limit, skip)


def _untold(session: Session, model: Any, untold: Any, limit: int, skip: Collection[int]) -> list:
    # The literal predicate is the partial index's.
    query = select(model).where(untold).order_by(model.id).limit(limit)
    return claim_rows(session, query, model, skip)


def tell_about_update(session: Session, update: IncidentUpdate, at: datetime) -> int:
    """Queues the notifications of one posted update, in the caller's transaction."""
    update.subscribers_told_at = at
    incident = session.get(PublicIncident, update.incident_id)
    if incident is None:
        return 0
    return incident_updated(session, _page(session, incident.page_id), incident, update, at)


def untold_maintenance_updates(
    session: Session, limit: int, skip: Collection[int] = ()
) -> list[MaintenanceUpdate]:
    """Maintenance notices (scheduled, started, completed) not yet sent; as `untold_updates`."""
    return _untold(session, MaintenanceUpdate, UNTOLD_MAINTENANCE_UPDATES, limit, skip)


def tell_about_maintenance_update(session: Session, update: MaintenanceUpdate, at: datetime) -> int:
    """Announces that a maintenance is scheduled, started or completed, in the caller's
    transaction."""
    update.subscribers_told_at = at
    maintenance = session.get(Maintenance, update.maintenance_id)
    if maintenance is None:
        return 0
    notice = MAINTENANCE_NOTICES[MaintenanceStatus(update.status)]
    return notice(session, maintenance, update, at)


def oldest_untold(session: Session) -> datetime | None:
    """When the longest-waiting update was posted whose subscribers are not yet told."""
    waiting = [
        session.scalar(select(func.min(IncidentUpdate.created_at)).where(UNTOLD_INCIDENT_UPDATES)),
        session.scalar(
            select(func.min(MaintenanceUpdate.created_at)).where(UNTOLD_MAINTENANCE_UPDATES)
        ),
    ]
    return min((t for t in waiting if t is not None), default=None)


def new_form_token() -> str:
    """The double-submit token of the public form (there is no login to hold one)."""
    return random.token_urlsafe(24)
