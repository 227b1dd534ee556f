"""Stakeholder updates from an incident, and the reminders that keep their cadence.

An update goes, in one transaction, to the audiences its author chose: stakeholder
channels (Apprise URLs, through the outbox), private status pages (internal
stakeholders and their subscribers) and public ones (through the status page
service), and lands on the incident's timeline. The next update is then due one
cadence later (see cadence.py); the engine reminds whoever owes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin, require_responder
from tocsin.comms import cadence as rules
from tocsin.comms import deliveries, drafts
from tocsin.comms.cadence import Cadence
from tocsin.comms.models import StakeholderChannel, StakeholderUpdate, UpdateReminder
from tocsin.comms.schemas import ChannelCreate, ChannelEdit, UpdatePost, apprise_url
from tocsin.db import now
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.paging import service as paging
from tocsin.paging.addresses import redacted
from tocsin.paging.models import Channel
from tocsin.statuspage import drafts as public_drafts
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.models import Component, PublicIncident, StatusPage
from tocsin.statuspage.models import IncidentUpdate as PageUpdate
from tocsin.statuspage.schemas import ComponentStatusChoice, PublicIncidentCreate
from tocsin.statuspage.schemas import UpdatePost as PageUpdatePost
from tocsin.statuspage.workflow import (
    COMPONENT_LABEL,
    INCIDENT_LABEL,
    ComponentStatus,
    Impact,
    IncidentStatus,
    impact_of,
)
from tocsin.timeline import service as timeline

SUBJECT = incidents.SUBJECT
TITLE_LENGTH = 200


# ---------------------------------------------------------------- channels


def list_channels(session: Session) -> list[StakeholderChannel]:
    query = select(StakeholderChannel).order_by(StakeholderChannel.name, StakeholderChannel.id)
    return list(session.scalars(query))


def channel_kind(channel: StakeholderChannel) -> str:
    """The scheme only: the rest of an Apprise URL often holds a token."""
    return urlsplit(channel.url).scheme.lower()


def create_channel(session: Session, actor: User, data: ChannelCreate) -> StakeholderChannel:
    require_admin(actor, "add stakeholder channels")
    taken = {c.name.casefold() for c in list_channels(session)}
    if data.name.casefold() in taken:
        raise Conflict(f"A channel named {data.name} exists already.", field="name")
    channel = StakeholderChannel(name=data.name, url=data.url)
    session.add(channel)
    session.flush()
    audit.record(
        session,
        actor.id,
        "stakeholder_channel.created",
        "stakeholder_channel",
        channel.id,
        f"Stakeholder channel {channel.name} ({channel_kind(channel)}) added",
    )
    try:
        session.commit()
    except IntegrityError:  # the same name, added at the same moment
        session.rollback()
        raise Conflict(f"A channel named {data.name} exists already.", field="name") from None
    return channel


def edit_channel(
    session: Session, actor: User, channel_id: int, data: ChannelEdit
) -> StakeholderChannel:
    """Renames a channel or gives it a new URL; the URL as it was shown back keeps the stored
    one, and no shortened URL is ever stored in its place."""
    require_admin(actor, "change stakeholder channels")
    channel = session.get(StakeholderChannel, channel_id)
    if channel is None:
        raise NotFound(f"No stakeholder channel {channel_id}.", field="channel_id")
    changes = []
    name = (data.name or "").strip()
    if name and name != channel.name:
        others = {c.name.casefold() for c in list_channels(session) if c.id != channel.id}
        if name.casefold() in others:
            raise Conflict(f"A channel named {name} exists already.", field="name")
        changes.append(f"renamed from {channel.name}")
        channel.name = name
    url = data.url or ""
    if url and url != channel.url and url != redacted(channel.url):
        try:
            channel.url = apprise_url(url)
        except ValueError as refused:
            raise InvalidInput(f"The URL {refused}.", field="url") from None
        changes.append(f"new URL {redacted(channel.url)}")
    if not changes:
        return channel
    audit.record(
        session,
        actor.id,
        "stakeholder_channel.changed",
        "stakeholder_channel",
        channel.id,
        f"Stakeholder channel {channel.name} changed: {', '.join(changes)}",
    )
    try:
        session.commit()
    except IntegrityError:  # the same name, taken at the same moment
        session.rollback()
        raise Conflict(f"A channel named {name} exists already.", field="name") from None
    return channel


def delete_channel(session: Session, actor: User, channel_id: int) -> None:
    require_admin(actor, "remove stakeholder channels")
    channel = session.get(StakeholderChannel, channel_id)
    if channel is None:
        raise NotFound(f"No stakeholder channel {channel_id}.", field="channel_id")
    audit.record(
        session,
        actor.id,
        "stakeholder_channel.deleted",
        "stakeholder_channel",
        channel.id,
        f"Stakeholder channel {channel.name} removed",
    )
    session.delete(channel)
    session.commit()


# ---------------------------------------------------------------- audiences and drafts


@dataclass(frozen=True)
class Audience:
    kind: str  # channel, private_page, public_page
    id: int
    name: str

    @property
    def value(self) -> str:
        """How a form names it: "channel:3", "page:7"."""
        return f"{'channel' if self.kind == 'channel' else 'page'}:{self.id}"


def audiences(session: Session, pages: list[StatusPage] | None = None) -> list[Audience]:
    """Every audience an update may go to: channels, then private pages, then public ones.
    `pages`: the status pages when the caller has them already."""
    pages = statuspage.list_pages(session) if pages is None else pages
    return (
        [Audience("channel", c.id, c.name) for c in list_channels(session)]
        + [Audience("private_page", p.id, p.name) for p in pages if not p.public]
        + [Audience("public_page", p.id, p.name) for p in pages if p.public]
    )


def pages_still_showing(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """Status pages whose incident linked to this one is not resolved yet, and the status
    they still show: once the incident is over, customers should hear so."""
    query = (
        select(StatusPage.name, PublicIncident.status)
        .join(StatusPage, StatusPage.id == PublicIncident.page_id)
        .where(
            PublicIncident.incident_id == incident.id,
            PublicIncident.status.in_(
                [
                    s.value
                    for s in (
                        IncidentStatus.INVESTIGATING,
                        IncidentStatus.IDENTIFIED,
                        IncidentStatus.MONITORING,
                    )
                ]
            ),
        )
        .order_by(StatusPage.name)
    )
    return [
        (name, INCIDENT_LABEL[IncidentStatus(status)]) for name, status in session.execute(query)
    ]


def last_updates(session: Session, incident_ids: Iterable[int]) -> dict[int, datetime]:
    """When each incident last told anyone: a stakeholder update or a linked status page
    update (posted from the status page itself counts too)."""
    ids = list(incident_ids)
    if not ids:
        return {}
    found: dict[int, datetime] = {}
    ours = (
        select(StakeholderUpdate.incident_id, func.max(StakeholderUpdate.sent_at))
        .where(StakeholderUpdate.incident_id.in_(ids))
        .group_by(StakeholderUpdate.incident_id)
    )
    pages = (
        select(PublicIncident.incident_id, func.max(PageUpdate.created_at))
        .join(PageUpdate, PageUpdate.incident_id == PublicIncident.id)
        .where(PublicIncident.incident_id.in_(ids))
        .group_by(PublicIncident.incident_id)
    )
    for query in (ours, pages):
        for incident_id, at in session.execute(query):
            if incident_id is not None and at is not None:
                found[incident_id] = max(at, found.get(incident_id, at))
    return found


def next_update_due(session: Session, incident: Incident, cadence: Cadence) -> datetime | None:
    last = last_updates(session, [incident.id]).get(incident.id)
    return rules.next_update_due(
        cadence, incident.severity, incident.status, incident.declared_at, last
    )


def count_updates(session: Session, incident_id: int) -> int:
    query = select(func.count()).where(StakeholderUpdate.incident_id == incident_id)
    return session.scalar(query) or 0


def facts_of(
    session: Session, incident: Incident, cadence: Cadence, base_url: str, at: datetime
) -> drafts.UpdateFacts:
    every = cadence.every(incident.severity)
    active = incident.status in rules.ACTIVE_STATUSES
    return drafts.UpdateFacts(
        key=incident.key,
        severity=incident.severity,
        summary=incident.summary,
        status=incident.status,
        products=tuple(p.name for p in incident.products),
        service=incident.service.name if incident.service else None,
        public_components=_public_components(session, incident),
        impact_started_at=incident.impact_started_at,
        incident_manager=incident.incident_manager.name if incident.incident_manager else None,
        communications_manager=(
            incident.communications_manager.name if incident.communications_manager else None
        ),
        resolution_summary=incident.resolution_summary,
        link=f"{base_url.rstrip('/')}/incidents/{incident.key}" if base_url else "",
        updates_sent=count_updates(session, incident.id),
        next_update_by=public_drafts.readable_time(at + every) if every and active else None,
    )


@dataclass(frozen=True)
class Draft:
    incident: Incident
    title: str
    body: str
    public_body: str
    audiences: list[Audience]
    next_update_due_at: datetime | None


def _public_components(session: Session, incident: Incident) -> tuple[str, ...]:
    """The public pages' components that the incident's service backs, named once each."""
    if incident.service_id is None:
        return ()
    query = (
        select(Component.name)
        .join(StatusPage, StatusPage.id == Component.page_id)
        .where(StatusPage.public.is_(True), Component.service_id == incident.service_id)
        .order_by(StatusPage.name, Component.position, Component.id)
    )
    return tuple(dict.fromkeys(session.scalars(query)))


def _public_zone(pages: list[StatusPage]) -> ZoneInfo:
    """Customers read times in their status page's zone, not the author's: the public
    pages' zone when they agree on one, else UTC."""
    zones = {p.time_zone for p in pages if p.public}
    try:
        return ZoneInfo(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def draft(session: Session, actor: User, key: str, cadence: Cadence, base_url: str = "") -> Draft:
    """The next update (the first, or a follow-up), filled from the incident for editing."""
    incident = incidents.get_incident(session, actor, key)
    facts = facts_of(session, incident, cadence, base_url, now())
    zone = _zone(actor)
    pages = statuspage.list_pages(session)
    return Draft(
        incident=incident,
        title=drafts.title(facts),
        body=drafts.internal_body(facts, zone),
        public_body=drafts.public_body(facts, _public_zone(pages)),
        audiences=audiences(session, pages),
        next_update_due_at=next_update_due(session, incident, cadence),
    )


def updates_of(session: Session, actor: User, key: str) -> tuple[Incident, list[StakeholderUpdate]]:
    """The incident and its updates, newest first."""
    incident = incidents.get_incident(session, actor, key)
    query = (
        select(StakeholderUpdate)
        .where(StakeholderUpdate.incident_id == incident.id)
        .order_by(StakeholderUpdate.sent_at.desc(), StakeholderUpdate.id.desc())
    )
    return incident, list(session.scalars(query))


def incident_key_of(session: Session, update: StakeholderUpdate) -> str:
    incident = session.get(Incident, update.incident_id)
    return incident.key if incident else ""


# ---------------------------------------------------------------- sending an update


def may_post(actor: User, incident: Incident) -> bool:
    """The communications manager, the incident manager, or an admin."""
    if actor.is_admin:
        return actor.is_active
    return actor.is_active and actor.id in (
        incident.communications_manager_id,
        incident.incident_manager_id,
    )


def _require_poster(actor: User, incident: Incident) -> None:
    require_responder(actor, "send stakeholder updates")
    if not may_post(actor, incident):
        raise Forbidden(
            f"Only the communications manager, the incident manager or an admin can send "
            f"stakeholder updates for {incident.key}."
        )


def _chosen(session: Session, model: Any, ids: list[int], what: str, field: str) -> list[Any]:
    """The rows with these ids, each once, in the order asked; InvalidInput naming a missing one."""
    chosen = []
    for row_id in dict.fromkeys(ids):
        row = session.get(model, row_id)
        if row is None:
            raise InvalidInput(f"No {what} {row_id}.", field=field)
        chosen.append(row)
    return chosen


def _split(body: str, fallback: str) -> tuple[str, str]:
    """The first line is the title chat and mail show; the rest is the message (chat shows
    both, so the title line is not repeated under itself)."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if not first or len(first) > TITLE_LENGTH:
        return (first or fallback)[:TITLE_LENGTH], body
    rest = body.strip()[len(first) :].strip()
    return first, rest or first


def _lock(session: Session, incident_id: int, *, skip_locked: bool = False) -> Incident | None:
    """The incident row, locked on PostgreSQL: a sender and a reminding worker take turns."""
    query = select(Incident).where(Incident.id == incident_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked, of=Incident)
    return session.scalar(query)


def _public_status(incident: Incident, current: str | None) -> IncidentStatus:
    status = public_drafts.PUBLIC_STATUS_FOR.get(incident.status, IncidentStatus.INVESTIGATING)
    if current == IncidentStatus.MONITORING and status is IncidentStatus.IDENTIFIED:
        return IncidentStatus.MONITORING  # someone said so on the page: do not step back
    return status


def _components_now(data: UpdatePost) -> ComponentStatus | None:
    """The status the author gave the affected components; None: keep them."""
    return None if data.component_status == "keep" else ComponentStatus(data.component_status)


def _check_components_now(incident: Incident, data: UpdatePost, pages: list[StatusPage]) -> None:
    """Refused before anything is written: a status with no page to show it, or on a
    resolution (which restores the components by itself)."""
    if _components_now(data) is None:
        return
    if not pages:
        raise InvalidInput(
            "Choose a status page whose components should change.", field="component_status"
        )
    status = data.page_status or public_drafts.PUBLIC_STATUS_FOR.get(incident.status)
    if status in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM):
        raise InvalidInput(
            "A resolved incident's components go back to operational by themselves: keep them "
            "as they are.",
            field="component_status",
        )


def _affected(
    session: Session, incident: Incident, page: StatusPage, held: Iterable[int] = ()
) -> list[int]:
    """The page's components the incident affects: those its page incident holds and those
    backed by its service."""
    holds = set(held)
    return [
        c.id
        for c in statuspage.list_components(session, page.id)
        if c.id in holds
        or (incident.service_id is not None and c.service_id == incident.service_id)
    ]


def _post_to_page(
    session: Session,
    actor: User,
    incident: Incident,
    page: StatusPage,
    body: str,
    chosen: IncidentStatus | None,
    components_now: ComponentStatus | None,
) -> None:
    """Updates the page's incident about `incident`, or publishes one the first time; in the
    status the author chose, else the one the incident's status implies. Components take
    `components_now` if given; else a follow-up keeps them and a first update sets them
    from the severity."""
    linked = [p for p in statuspage.linked_incidents(session, incident.id) if p.page_id == page.id]
    if linked:
        public = linked[0]
        status = chosen or _public_status(incident, public.status)
        choices: list[ComponentStatusChoice] = []
        if components_now is not None:
            held = [link.component_id for link in public.components]
            choices = [
                ComponentStatusChoice(component_id=component_id, status=components_now)
                for component_id in _affected(session, incident, page, held)
            ]
        update = PageUpdatePost(
            status=status,
            body=body,
            notify=True,
            components=choices,
            impact=impact_of(components_now) if choices and components_now else None,
        )
        statuspage.post_update(
            session, actor, page.id, public.id, update, commit=False, on_timeline=False
        )
        return
    severity = incident.severity
    first_status = components_now or public_drafts.COMPONENT_STATUS_FOR_SEVERITY.get(
        severity, ComponentStatus.DEGRADED_PERFORMANCE
    )
    backed = [
        ComponentStatusChoice(component_id=component_id, status=first_status)
        for component_id in _affected(session, incident, page)
    ]
    data = PublicIncidentCreate(
        name=incident.summary,
        status=chosen or _public_status(incident, None),
        impact=public_drafts.IMPACT_FOR_SEVERITY.get(severity, Impact.MINOR),
        body=body,
        components=backed,
        notify=True,
        incident_key=incident.key,
    )
    statuspage.create_incident(session, actor, page.id, data, commit=False, on_timeline=False)


def _audience_words(channels: list[StakeholderChannel], pages: list[StatusPage]) -> str:
    """Pages show the update at once; channels get it from the outbox, maybe after retries,
    so the timeline says only that it is on its way (their delivery is marked later)."""
    posted = [f"{p.name} ({'public' if p.public else 'private'} page)" for p in pages]
    words = [f"sent to {', '.join(posted)}"] if posted else []
    if channels:
        words.append(f"on its way to {', '.join(c.name for c in channels)}")
    return "; ".join(words)


def _timeline_message(
    number: int,
    channels: list[StakeholderChannel],
    pages: list[StatusPage],
    body: str,
    public: str,
    components_now: ComponentStatus | None = None,
) -> str:
    """The one timeline event of an update, whatever pages it reached (they record none)."""
    message = f"Stakeholder update {number} {_audience_words(channels, pages)}: "
    if body and public and body != public:
        message = f"{message}{body}\n\nOn the public page: {public}"
    else:
        message += body or public
    if components_now is not None:
        message += f"\n\nComponents on the pages now: {COMPONENT_LABEL[components_now]}."
    return message


def _require_allowed_when_ended(
    session: Session, incident: Incident, number: int, pages: list[StatusPage]
) -> None:
    """A closed or cancelled incident may still tell those it told before that it is over,
    but it starts no conversation: no first update, no page that never showed it."""
    if number == 1:
        incidents.require_not_ended(incident, "send a first stakeholder update about it")
    shown_on = {p.page_id for p in statuspage.linked_incidents(session, incident.id)}
    if any(page.id not in shown_on for page in pages):
        incidents.require_not_ended(incident, "publish it on a status page")


def post_update(
    session: Session,
    actor: User,
    key: str,
    data: UpdatePost,
    cadence: Cadence,
    base_url: str = "",
) -> StakeholderUpdate:
    """Sends one update to the chosen audiences; all of it commits together or nothing does."""
    require_responder(actor, "send stakeholder updates")
    incident = incidents.get_incident(session, actor, key)
    _require_poster(actor, incident)
    channels = _chosen(
        session, StakeholderChannel, data.channel_ids, "stakeholder channel", "channel_ids"
    )
    chosen_pages = _chosen(session, StatusPage, data.page_ids, "status page", "page_ids")
    pages = sorted(chosen_pages, key=lambda p: (p.public, p.name))
    if not channels and not pages:
        raise InvalidInput("Choose at least one audience.", field="channel_ids")
    body, public_body = data.body.strip(), data.public_body.strip()
    if (channels or any(not p.public for p in pages)) and not body:
        raise InvalidInput("Write the update for internal stakeholders.", field="body")
    if any(p.public for p in pages) and not public_body:
        raise InvalidInput("Write the update for the public status page.", field="public_body")
    _check_components_now(incident, data, pages)
    components_now = _components_now(data)
    _lock(session, incident.id)
    at = now()
    number = count_updates(session, incident.id) + 1
    _require_allowed_when_ended(session, incident, number, pages)
    update = StakeholderUpdate(
        incident_id=incident.id,
        author_id=actor.id,
        audiences={
            "channels": [{"id": c.id, "name": c.name} for c in channels],
            "pages": [{"id": p.id, "name": p.name, "public": p.public} for p in pages],
        },
        body=body if channels or any(not p.public for p in pages) else "",
        public_body=public_body if any(p.public for p in pages) else "",
        sent_at=at,
    )
    session.add(update)
    session.flush()
    title, message = _split(body, f"[{incident.key}] Update {number}: {incident.summary}")
    if incident.restricted:  # outside channels carry its key, severity and link, no text
        words = paging.restricted_notice(
            subject_key=incident.key,
            severity=incident.severity,
            what=f"stakeholder update {number}",
            link=f"{base_url.rstrip('/')}/incidents/{incident.key}",
        )
        title, message = words.title, words.body
    for channel in channels:
        paging.queue(
            session,
            idempotency_key=deliveries.idempotency_key(update.id, channel.id),
            purpose=deliveries.PURPOSE,
            channel=Channel.APPRISE.value,
            address=channel.url,
            label=channel.name,
            title=title,
            body=message,
            data={"incident": incident.key, "update": number, "update_id": update.id},
            subject=(SUBJECT, incident.id),
        )
    timeline.record(
        session,
        SUBJECT,
        incident.id,
        "stakeholder_update",
        _timeline_message(number, channels, pages, update.body, update.public_body, components_now),
        actor_id=actor.id,
        data={
            "update_id": update.id,
            **update.audiences,
            "component_status": data.component_status,
        },
        at=at,
    )
    for page in pages:
        text = public_body if page.public else body
        _post_to_page(session, actor, incident, page, text, data.page_status, components_now)
    session.commit()
    return update


# ---------------------------------------------------------------- reminders (the engine)


@dataclass(frozen=True)
class Owed:
    incident_id: int
    due_at: datetime


def owed_reminders(session: Session, cadence: Cadence, at: datetime) -> list[Owed]:
    """Active incidents with a cadence whose next update is due and someone is not yet
    reminded of it. Read without locks: `remind` checks again under its claim."""
    if not cadence.severities:
        return []
    query = select(Incident.id, Incident.severity, Incident.status, Incident.declared_at).where(
        Incident.status.in_(rules.ACTIVE_STATUSES), Incident.severity.in_(cadence.severities)
    )
    rows = session.execute(query).all()
    last = last_updates(session, [row.id for row in rows])
    reminded = {
        r.incident_id: r
        for r in session.scalars(
            select(UpdateReminder).where(UpdateReminder.incident_id.in_([row.id for row in rows]))
        )
    }
    owed = []
    for row in rows:
        due = rules.next_update_due(
            cadence, row.severity, row.status, row.declared_at, last.get(row.id)
        )
        if due is None:
            continue
        state = reminded.get(row.id)
        done = state.stage if state is not None and state.due_at == due else 0
        if rules.stage_owed(due, at) > done:
            owed.append(Owed(row.id, due))
    return owed


def _local(user: User, at: datetime) -> str:
    return at.astimezone(_zone(user)).strftime("%H:%M %Z")


def _remind_person(
    session: Session,
    incident: Incident,
    person: User,
    role: str,
    due: datetime,
    stage: int,
    base_url: str,
) -> None:
    link = f"{base_url.rstrip('/')}/incidents/{incident.key}#stakeholder-update"
    words = paging.PageMessage(
        title=f"{incident.key}: a stakeholder update is due",
        body=(
            f"The next stakeholder update for {incident.key} ({incident.severity}: "
            f"{incident.summary}) was due at {_local(person, due)}. You are its {role}.\n\n"
            f"Send it from the incident page: {link}"
        ),
    )
    if incident.restricted:
        words = paging.restricted_notice(
            subject_key=incident.key,
            severity=incident.severity,
            what=f"a stakeholder update was due at {_local(person, due)}",
            link=link,
        )
    paging.notify_user(
        session,
        person,
        key=f"update-due:{incident.id}:{int(due.timestamp())}:{stage}",
        title=words.title,
        body=words.body,
        purpose="update_due",
        subject=(SUBJECT, incident.id),
    )


def remind(
    session: Session, incident_id: int, at: datetime, cadence: Cadence, base_url: str
) -> int:
    """Sends the reminders owed for one incident's due update, each exactly once.

    Called by the engine; the claim (the incident row, skipped when another worker holds
    it), the reminder state, the outbox rows and the timeline events commit together.
    """
    incident = _lock(session, incident_id, skip_locked=True)
    if incident is None:
        return 0
    due = next_update_due(session, incident, cadence)
    if due is None:
        return 0
    state = session.get(UpdateReminder, incident.id)
    if state is None:
        state = UpdateReminder(incident_id=incident.id, due_at=due, stage=0)
        session.add(state)
    elif state.due_at != due:
        state.due_at, state.stage = due, 0
    owed = rules.stage_owed(due, at)
    cm, im = incident.communications_manager, incident.incident_manager
    first = (cm, "communications manager") if cm else (im, "incident manager")
    second = (
        (im, "incident manager") if im and first[0] is not None and im.id != first[0].id else None
    )
    handled = 0
    while state.stage < owed:
        state.stage += 1
        target = first if state.stage == rules.COMMUNICATIONS_MANAGER_REMINDED else second
        if target is None or target[0] is None:
            if state.stage == rules.COMMUNICATIONS_MANAGER_REMINDED:
                message = (
                    f"Stakeholder update due at {due:%H:%M} UTC; nobody holds the "
                    "communications or incident manager role to remind"
                )
                timeline.record(session, SUBJECT, incident.id, "update_reminder", message, at=at)
            continue
        person, role = target
        _remind_person(session, incident, person, role, due, state.stage, base_url)
        timeline.record(
            session,
            SUBJECT,
            incident.id,
            "update_reminder",
            f"Stakeholder update due at {due:%H:%M} UTC: reminded {person.name} ({role})",
            data={"due_at": due.isoformat(), "user_id": person.id, "role": role},
            at=at,
        )
        handled += 1
    return handled
