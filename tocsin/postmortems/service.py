"""What people do with postmortems: start one, write it in versions, take it through review
to approval and publication, hand it to another owner.

Every operation checks the actor, writes its change with its timeline event (on the
incident) and audit entry in one transaction, and commits. A postmortem is seen by exactly
those who may see its incident: a restricted incident keeps its postmortem restricted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, extract, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.permissions import require_responder
from tocsin.catalogue.models import Service
from tocsin.config import Settings, get_settings
from tocsin.db import now
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.workflow import Status as IncidentStatus
from tocsin.paging import service as paging
from tocsin.postmortems import blameless, feed, search, template, workflow
from tocsin.postmortems.models import (
    Postmortem,
    PostmortemDismissal,
    PostmortemFeed,
    PostmortemRevision,
)
from tocsin.postmortems.schemas import PostmortemFilters, PostmortemSave, StatusMove
from tocsin.postmortems.workflow import Status, Why
from tocsin.timeline import service as timeline
from tocsin.timeline.models import TimelineEvent

# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Rules:
    """The operator's settings for the Learn stage."""

    severities: frozenset[str]
    due_business_days: int
    approvers: workflow.Approvers
    base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            workflow.parse_severities(settings.postmortem_severities),
            settings.postmortem_due_business_days,
            workflow.parse_approvers(settings.postmortem_approvers),
            settings.base_url.rstrip("/"),
        )


_rules: Rules | None = None


def use_settings(settings: Settings) -> None:
    """The app and the CLI set the rules once at start; otherwise the environment's apply."""
    global _rules
    _rules = Rules.from_settings(settings)


def rules() -> Rules:
    if _rules is None:
        use_settings(get_settings())
    assert _rules is not None
    return _rules


def is_major(incident: Incident) -> bool:
    """Major by the setting: resolving starts a postmortem, closing needs it approved."""
    return incident.severity in rules().severities


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class PostmortemView:
    postmortem: Postmortem
    revision: PostmortemRevision

    @property
    def document(self) -> dict[str, Any]:
        return self.revision.document


def _of_incident(session: Session, incident: Incident) -> Postmortem | None:
    return session.scalar(select(Postmortem).where(Postmortem.incident_id == incident.id))


def postmortem_of_incident(session: Session, incident: Incident) -> Postmortem | None:
    """For the incident page: the incident's postmortem, if it has one (already visible)."""
    return _of_incident(session, incident)


def _revision(session: Session, postmortem: Postmortem, version: int) -> PostmortemRevision:
    revision = session.scalar(
        select(PostmortemRevision).where(
            PostmortemRevision.postmortem_id == postmortem.id,
            PostmortemRevision.version == version,
        )
    )
    if revision is None:
        raise NotFound(f"No version {version} of this postmortem.", field="version")
    return revision


def _find(session: Session, actor: User, key: str) -> Postmortem:
    incident = incidents.get_incident(session, actor, key)
    postmortem = _of_incident(session, incident)
    if postmortem is None:
        raise NotFound(f"{incident.key} has no postmortem yet.", field="key")
    return postmortem


def get_postmortem(
    session: Session, actor: User, key: str, version: int | None = None
) -> PostmortemView:
    """The newest version, or the one asked for."""
    postmortem = _find(session, actor, key)
    return PostmortemView(postmortem, _revision(session, postmortem, version or postmortem.version))


def published_view(session: Session, actor: User, key: str) -> PostmortemView:
    """What the blog shows: the version that was published, even while an amendment is drafted."""
    postmortem = _find(session, actor, key)
    if postmortem.published_version is None:
        raise NotFound(
            f"The postmortem of {postmortem.incident.key} is not published.", field="key"
        )
    return PostmortemView(postmortem, _revision(session, postmortem, postmortem.published_version))


def revisions(session: Session, actor: User, key: str) -> list[PostmortemRevision]:
    """Every version, newest first."""
    postmortem = _find(session, actor, key)
    query = (
        select(PostmortemRevision)
        .where(PostmortemRevision.postmortem_id == postmortem.id)
        .order_by(PostmortemRevision.version.desc())
    )
    return list(session.scalars(query))


def list_postmortems(session: Session, actor: User, filters: PostmortemFilters) -> list[Postmortem]:
    """Newest first (by publication for published ones, else by creation)."""
    query = (
        select(Postmortem)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(incidents.visible_to(actor))
    )
    if filters.status:
        query = query.where(Postmortem.status.in_([s.value for s in filters.status]))
    if filters.q.strip():  # search reads the published text: the blog
        ids = search.matching(session, filters.q)
        query = query.where(Postmortem.published_version.is_not(None), Postmortem.id.in_(ids))
    query = query.where(*_blog_filters(filters))
    order = func.coalesce(Postmortem.published_at, Postmortem.created_at)
    return list(
        session.scalars(query.order_by(order.desc(), Postmortem.id.desc()).limit(filters.limit))
    )


def _blog_filters(filters: PostmortemFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.service_id is not None:
        clauses.append(Incident.service_id == filters.service_id)
    if filters.team_id is not None:
        clauses.append(
            Incident.service_id.in_(select(Service.id).where(Service.team_id == filters.team_id))
        )
    if filters.category is not None:
        clauses.append(Postmortem.category == filters.category.value)
    if filters.month:
        year, month = (int(part) for part in filters.month.split("-"))
        clauses.append(
            and_(
                extract("year", Postmortem.published_at) == year,
                extract("month", Postmortem.published_at) == month,
            )
        )
    return clauses


# ---------------------------------------------------------------- starting one


def _facts(session: Session, incident: Incident, *, everything: bool) -> template.IncidentFacts:
    events = timeline.events_of(
        session, incidents.SUBJECT, incident.id, starred_only=not everything
    )
    return template.IncidentFacts(
        key=incident.key,
        summary=incident.summary,
        severity=incident.severity,
        description=incident.description,
        resolution_summary=incident.resolution_summary,
        impact_started_at=incident.impact_started_at,
        detected_at=incident.detected_at,
        declared_at=incident.declared_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        service=incident.service.name if incident.service else None,
        products=[p.name for p in incident.products],
        incident_manager=incident.incident_manager.name if incident.incident_manager else None,
        communications_manager=(
            incident.communications_manager.name if incident.communications_manager else None
        ),
        tech_leads=[u.name for u in incident.tech_leads],
        reporter=incident.reporter.name if incident.reporter else None,
        events=[_event_row(e) for e in events],
    )


def _event_row(event: TimelineEvent) -> template.Event:
    who = f"{event.actor.name}: " if event.actor and event.kind == "note" else ""
    return template.Event(event.at, who + event.message)


def _record(
    session: Session,
    postmortem: Postmortem,
    actor: User | None,
    kind: str,
    message: str,
    data: dict[str, Any] | None = None,
) -> None:
    """The move on the incident's timeline and in the audit log, in the caller's transaction."""
    actor_id = actor.id if actor else None
    timeline.record(
        session,
        incidents.SUBJECT,
        postmortem.incident_id,
        kind,
        message,
        actor_id=actor_id,
        data=data,
    )
    audit.record(
        session,
        actor_id,
        f"postmortem.{kind.removeprefix('postmortem_')}",
        "postmortem",
        postmortem.id,
        message,
        {"incident": postmortem.incident.key, **(data or {})},
    )


def _link(incident: Incident) -> str:
    return f"{rules().base_url}/incidents/{incident.key}/postmortem"


def _tell_owner(session: Session, postmortem: Postmortem, by: User | None) -> None:
    owner = postmortem.owner
    if owner is None:
        return
    incident = postmortem.incident
    stamp = int(now().timestamp() * 1000)
    paging.notify_user(
        session,
        owner,
        key=f"postmortem:{postmortem.id}:owner:{owner.id}:{stamp}",
        title=f"[{incident.severity}] {incident.key}: the postmortem is yours",
        body=(
            f"You own the postmortem of {incident.key} ({incident.severity}): {incident.summary}\n"
            + (f"Assigned by {by.name}.\n" if by else "")
            + f"Due {postmortem.due_at:%A %Y-%m-%d} (UTC). The facts Tocsin knows are already "
            "written in;\n"
            "add the five whys, the root cause and the lessons, then ask for review.\n\n"
            f"{_link(incident)}\n"
        ),
        purpose="info",
        subject=(incidents.SUBJECT, incident.id),
    )


def _create(session: Session, actor: User | None, incident: Incident, owner: User) -> Postmortem:
    at = now()
    postmortem = Postmortem(
        incident=incident,
        owner=owner,
        status=Status.DRAFT.value,
        version=1,
        due_at=workflow.add_business_days(incident.resolved_at or at, rules().due_business_days),
        created_at=at,
    )
    session.add(postmortem)
    session.flush()
    zone = owner.time_zone or "UTC"
    document = template.first_version(_facts(session, incident, everything=False), zone)
    session.add(
        PostmortemRevision(
            postmortem_id=postmortem.id,
            version=1,
            document=document,
            changed=list(template.SECTIONS),
            saved_by_id=None,
            saved_at=at,
        )
    )
    _record(
        session,
        postmortem,
        actor,
        "postmortem_created",
        f"Postmortem started, owned by {owner.name}, due {postmortem.due_at:%Y-%m-%d}",
        {"owner": owner.name, "due_at": postmortem.due_at.isoformat()},
    )
    _tell_owner(session, postmortem, actor)
    return postmortem


def _start_on_resolve(
    session: Session,
    actor: User,
    incident: Incident,
    current: IncidentStatus,
    target: IncidentStatus,
) -> None:
    """Resolving a major incident starts its postmortem, once (a reopened one keeps its own)."""
    if target is not IncidentStatus.RESOLVED or not is_major(incident):
        return
    if _of_incident(session, incident) is not None:
        return
    _create(session, actor, incident, incident.incident_manager or actor)


def _approved_before_close(
    session: Session,
    actor: User,
    incident: Incident,
    current: IncidentStatus,
    target: IncidentStatus,
) -> None:
    """A major incident closes only once its postmortem is approved: 409 says what is missing."""
    if target is not IncidentStatus.CLOSED or not is_major(incident):
        return
    postmortem = _of_incident(session, incident)
    status = Status(postmortem.status) if postmortem else None
    empty: list[str] = []
    if postmortem is not None and status is Status.DRAFT:
        empty = missing_for_review(_revision(session, postmortem, postmortem.version).document)
    owner = postmortem.owner.name if postmortem and postmortem.owner else None
    needs = workflow.missing_to_close(status, owner, empty)
    if needs is None:
        return
    raise Conflict(
        f"{incident.key} is a major incident ({incident.severity}) and closes only once its "
        f"postmortem is approved. {needs}",
        field="postmortem",
        code="postmortem_not_approved",
    )


incidents.add_workflow_guard(_approved_before_close)
incidents.add_workflow_followup(_start_on_resolve)


def request_postmortem(
    session: Session, actor: User, key: str, owner_id: int | None = None
) -> PostmortemView:
    """A postmortem for any incident, on request; one per incident (409 if it has one)."""
    require_responder(actor, "start postmortems")
    incident = incidents.incident_to_act_on(session, actor, key, "start postmortems")
    if _of_incident(session, incident) is not None:
        raise Conflict(f"{incident.key} already has its postmortem.", field="key", code="exists")
    if incident.status in (IncidentStatus.CANCELLED.value,):
        raise Conflict(
            f"{incident.key} was a false alarm (cancelled): there is nothing to learn from.",
            field="key",
        )
    owner = _owner_for(session, owner_id) if owner_id else (incident.incident_manager or actor)
    postmortem = _create(session, actor, incident, owner)
    _commit(session)
    return PostmortemView(postmortem, _revision(session, postmortem, 1))


def _owner_for(session: Session, owner_id: int) -> User:
    owner = auth.users_by_ids(session, [owner_id], "owner_id")[0]
    if owner.role == Role.VIEWER.value or not owner.is_active:
        raise InvalidInput(
            f"{owner.name} cannot own a postmortem (not a responder).", field="owner_id"
        )
    return owner


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # a second request started it a moment before
        session.rollback()
        raise Conflict("Someone changed this postmortem a moment ago; reload it.") from None


# ---------------------------------------------------------------- writing it


def _locked(session: Session, postmortem: Postmortem) -> Postmortem:
    """Saves and moves of one postmortem queue here, each then seeing the one before it."""
    query = select(Postmortem).where(Postmortem.id == postmortem.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Postmortem)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def _to_act_on(session: Session, actor: User, key: str, doing: str) -> Postmortem:
    require_responder(actor, doing)
    postmortem = _find(session, actor, key)
    return _locked(session, postmortem)


def missing_for_review(document: dict[str, Any]) -> list[str]:
    """The fields a review needs that the document leaves blank."""
    chain = [Why(s.get("why", ""), s.get("answer", "")) for s in document.get("five_whys") or []]
    return workflow.missing_for_review(
        document.get("root_cause", ""), chain, document.get("root_cause_category")
    )


def _changes(session: Session, actor: User, incident: Incident, data: PostmortemSave) -> dict:
    """The sections the save sets, checked and in their stored form."""
    given = data.model_dump(include=data.model_fields_set - {"base_version"})
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name == "timeline":
            rows = sorted(data.timeline or [], key=lambda row: row.at)
            changes[name] = [{"at": r.at.isoformat(), "text": r.text} for r in rows]
        elif name == "five_whys":
            chain = [Why(s.why, s.answer) for s in data.five_whys or []]
            gap = workflow.five_whys_gap(chain)
            if gap is not None:
                index, part = gap
                raise InvalidInput(
                    f"Five whys step {index + 1} has no {part}: each answer leads to the next "
                    "why, so the chain has no gaps.",
                    field=f"five_whys.{index}.{part}",
                )
            changes[name] = [
                {"why": s.why, "answer": s.answer} for s in workflow.trimmed_chain(chain)
            ]
        elif name == "related_incidents":
            changes[name] = _related(session, actor, incident, data.related_incidents or [])
        elif name == "root_cause_category":
            changes[name] = data.root_cause_category.value if data.root_cause_category else None
        else:
            changes[name] = value if value is not None else ""
    return changes


def _related(session: Session, actor: User, incident: Incident, keys: list[str]) -> list[str]:
    found: list[str] = []
    for index, key in enumerate(keys):
        try:
            other = incidents.get_incident(session, actor, key)
        except NotFound:
            raise InvalidInput(f"No incident {key}.", field=f"related_incidents.{index}") from None
        if other.id == incident.id:
            raise InvalidInput(
                "An incident is not related to itself.", field=f"related_incidents.{index}"
            )
        if other.key not in found:
            found.append(other.key)
    return found


def _newer_conflict(newer: list[PostmortemRevision], clash: set[str]) -> Conflict:
    last = newer[-1]
    who = last.saved_by.name if last.saved_by else "Someone"
    sections = ", ".join(template.LABELS[n] for n in template.SECTIONS if n in clash)
    return Conflict(
        f"{who} saved version {last.version} while you were editing ({sections}): "
        "read theirs and save yours again.",
        field="base_version",
    )


def save(session: Session, actor: User, key: str, data: PostmortemSave) -> PostmortemView:
    """A new version with the sections given, unless a version newer than `base_version`
    changed one of them (409, nothing written). Sections nobody else touched merge."""
    postmortem = _to_act_on(session, actor, key, "write postmortems")
    try:
        workflow.check_editable(Status(postmortem.status))
    except workflow.NotEditable as refused:
        raise Conflict(str(refused), field="status", code="not_editable") from None
    if data.base_version > postmortem.version:
        raise InvalidInput(
            f"There is no version {data.base_version} yet (the newest is {postmortem.version}).",
            field="base_version",
        )
    changes = _changes(session, actor, postmortem.incident, data)
    newer = list(
        session.scalars(
            select(PostmortemRevision)
            .where(
                PostmortemRevision.postmortem_id == postmortem.id,
                PostmortemRevision.version > data.base_version,
            )
            .order_by(PostmortemRevision.version)
        )
    )
    clash = set(changes) & {name for r in newer for name in r.changed}
    if clash:
        raise _newer_conflict(newer, clash)
    latest = _revision(session, postmortem, postmortem.version)
    document = {**latest.document, **changes}
    changed = sorted(name for name in changes if latest.document.get(name) != changes[name])
    if not changed:
        return PostmortemView(postmortem, latest)
    revision = PostmortemRevision(
        postmortem_id=postmortem.id,
        version=postmortem.version + 1,
        document=document,
        changed=changed,
        saved_by=actor,
        saved_at=now(),
    )
    session.add(revision)
    postmortem.version = revision.version
    postmortem.category = document.get("root_cause_category")
    try:
        session.commit()
    except IntegrityError:  # SQLite: someone saved the same version a moment before
        session.rollback()
        raise Conflict(
            "Someone saved a new version while you were editing: read theirs and save yours again.",
            field="base_version",
        ) from None
    return PostmortemView(postmortem, revision)


def refill_timeline(
    session: Session, actor: User, key: str, *, everything: bool, base_version: int
) -> PostmortemView:
    """The timeline section redrawn from the incident: its starred events, or all of them."""
    postmortem = _find(session, actor, key)
    incident = postmortem.incident
    rows = template.timeline_rows(_facts(session, incident, everything=everything).events)
    data = PostmortemSave.model_validate(
        {
            "base_version": base_version,
            "timeline": [{"at": r["at"], "text": r["text"][:20_000]} for r in rows],
        }
    )
    return save(session, actor, key, data)


# ---------------------------------------------------------------- review, approval, publication


def _authors(session: Session, postmortem: Postmortem) -> set[int]:
    """The owner and everyone who wrote a version: none of them approves it."""
    writers = select(PostmortemRevision.saved_by_id).where(
        PostmortemRevision.postmortem_id == postmortem.id,
        PostmortemRevision.saved_by_id.is_not(None),
    )
    ids = set(session.scalars(writers.distinct()))
    if postmortem.owner_id:
        ids.add(postmortem.owner_id)
    return ids


def named_approvers(incident: Incident) -> frozenset[str]:
    service = incident.service
    team = service.team.name if service and service.team else None
    return rules().approvers.for_incident(service.name if service else None, team)


def _approval_refusal(session: Session, actor: User, postmortem: Postmortem) -> str | None:
    return workflow.may_approve(
        approver_email=actor.email,
        is_admin=actor.is_admin,
        author_ids=_authors(session, postmortem),
        approver_id=actor.id,
        named=named_approvers(postmortem.incident),
    )


def _may_steer(actor: User, postmortem: Postmortem) -> bool:
    """Publishing and amending: the owner, a named approver, or an admin."""
    return (
        actor.is_admin
        or actor.id == postmortem.owner_id
        or actor.email.lower() in named_approvers(postmortem.incident)
    )


def approvers_to_tell(session: Session, postmortem: Postmortem) -> list[User]:
    """The named approvers, or the admins when nobody is named; never an author."""
    named = named_approvers(postmortem.incident)
    query = select(User).where(User.is_active.is_(True))
    if named:
        query = query.where(func.lower(User.email).in_(sorted(named)))
    else:
        query = query.where(User.role == Role.ADMIN.value)
    authors = _authors(session, postmortem)
    found = session.scalars(query.order_by(User.name))
    return [
        u
        for u in found
        if u.id not in authors and incidents.can_see(session, u, postmortem.incident)
    ]


def _tell_approvers(session: Session, postmortem: Postmortem, by: User) -> None:
    incident = postmortem.incident
    stamp = int(now().timestamp() * 1000)
    for approver in approvers_to_tell(session, postmortem):
        paging.notify_user(
            session,
            approver,
            key=f"postmortem:{postmortem.id}:review:{stamp}",
            title=f"[{incident.severity}] {incident.key}: postmortem ready for your review",
            body=(
                f"{by.name} asks for a review of the postmortem of {incident.key}: "
                f"{incident.summary}\nApprove it, or request changes with a comment:\n\n"
                f"{_link(incident)}\n"
            ),
            purpose="info",
            subject=(incidents.SUBJECT, incident.id),
        )


def move(session: Session, actor: User, key: str, change: StatusMove) -> PostmortemView:
    """One step of the review workflow; 409 names the allowed moves."""
    postmortem = _to_act_on(session, actor, key, "move postmortems through review")
    current, target = Status(postmortem.status), change.status
    try:
        workflow.check_move(current, target, change.comment)
    except workflow.IllegalMove as refused:
        raise Conflict(str(refused), field="status", code="illegal_transition") from None
    except ValueError as missing:
        raise InvalidInput(str(missing), field="comment") from None
    latest = _revision(session, postmortem, postmortem.version)
    at = now()
    name = workflow.move_name(current, target)
    message = f"Postmortem: {name.lower()}"
    if target is Status.IN_REVIEW:
        empty = missing_for_review(latest.document)
        if empty:
            words = ", ".join(workflow.FIELD_WORDS[n] for n in empty)
            raise InvalidInput(f"A review needs {words} first.", field=empty[0])
        postmortem.review_requested_by = actor
        postmortem.review_requested_at = at
        postmortem.review_comment = ""
        message = f"Postmortem sent for review by {actor.name}"
    elif target is Status.APPROVED:
        refusal = _approval_refusal(session, actor, postmortem)
        if refusal:
            raise Forbidden(refusal)
        postmortem.approved_by = actor
        postmortem.approved_at = at
        message = f"Postmortem approved by {actor.name} (version {postmortem.version})"
    elif target is Status.PUBLISHED:
        if not _may_steer(actor, postmortem):
            raise Forbidden("The owner, a named approver or an admin publishes the postmortem.")
        postmortem.published_at = at
        postmortem.published_version = postmortem.version
        message = f"Postmortem published by {actor.name} (version {postmortem.version})"
    elif current is Status.IN_REVIEW:  # changes requested
        withdrawing = actor.id in (postmortem.owner_id, postmortem.review_requested_by_id)
        if not withdrawing and _approval_refusal(session, actor, postmortem):
            raise Forbidden("An approver requests changes; the author may withdraw it.")
        postmortem.review_comment = change.comment.strip()
        postmortem.approved_by = None
        message = (
            f"Changes requested on the postmortem by {actor.name}: {postmortem.review_comment}"
        )
    else:  # amending an approved or published one
        if not _may_steer(actor, postmortem):
            raise Forbidden("The owner, a named approver or an admin amends the postmortem.")
        postmortem.approved_by = None
        postmortem.approved_at = None
        postmortem.review_comment = change.comment.strip()
        message = f"Postmortem reopened for amendment by {actor.name}" + (
            f": {postmortem.review_comment}" if postmortem.review_comment else ""
        )
    postmortem.status = target.value
    postmortem.updated_at = at
    _record(
        session,
        postmortem,
        actor,
        "postmortem_status",
        message,
        {"status": [current.value, target.value], "version": postmortem.version},
    )
    if target is Status.IN_REVIEW:
        _tell_approvers(session, postmortem, actor)
    if target is Status.PUBLISHED:
        search.index(session, postmortem, latest.document)
    _commit(session)
    return PostmortemView(postmortem, latest)


def reassign(session: Session, actor: User, key: str, owner_id: int) -> PostmortemView:
    """A new owner (the owner, the incident manager or an admin hands it on); they are told."""
    postmortem = _to_act_on(session, actor, key, "hand postmortems on")
    incident = postmortem.incident
    if actor.id not in (postmortem.owner_id, incident.incident_manager_id) and not actor.is_admin:
        raise Forbidden("The owner, the incident manager or an admin hands the postmortem on.")
    owner = _owner_for(session, owner_id)
    if not incidents.can_see(session, owner, incident):
        raise InvalidInput(
            f"{owner.name} cannot see this restricted incident; add them as a participant first.",
            field="owner_id",
        )
    if owner.id == postmortem.owner_id:
        return PostmortemView(postmortem, _revision(session, postmortem, postmortem.version))
    previous = postmortem.owner.name if postmortem.owner else "nobody"
    postmortem.owner = owner
    _record(
        session,
        postmortem,
        actor,
        "postmortem_owner",
        f"Postmortem handed from {previous} to {owner.name}",
        {"owner": [previous, owner.name]},
    )
    _tell_owner(session, postmortem, actor)
    _commit(session)
    return PostmortemView(postmortem, _revision(session, postmortem, postmortem.version))


def is_overdue(postmortem: Postmortem, at: datetime | None = None) -> bool:
    return postmortem.status == Status.DRAFT.value and (at or now()) > postmortem.due_at


# ---------------------------------------------------------------- export


def _meta(view: PostmortemView) -> list[tuple[str, str]]:
    postmortem = view.postmortem
    incident = postmortem.incident
    meta = [
        ("Incident", f"{incident.key} ({incident.severity})"),
        ("Status", workflow.LABEL[Status(postmortem.status)]),
        ("Owner", postmortem.owner.name if postmortem.owner else "nobody"),
        ("Faulty service", incident.service.name if incident.service else "unknown"),
        ("Version", str(view.revision.version)),
    ]
    if postmortem.approved_by and postmortem.approved_at:
        meta.append(
            ("Approved", f"{postmortem.approved_by.name}, {postmortem.approved_at:%Y-%m-%d}")
        )
    if postmortem.published_at:
        meta.append(("Published", f"{postmortem.published_at:%Y-%m-%d}"))
    return meta


def markdown_of(session: Session, actor: User, key: str, version: int | None = None) -> str:
    view = get_postmortem(session, actor, key, version)
    incident = view.postmortem.incident
    title = f"Postmortem: {incident.key} {incident.summary}"
    return template.markdown(title, view.document, _meta(view))


# ---------------------------------------------------------------- the blameless check


@dataclass(frozen=True)
class Advice:
    """One finding in one section, and its dismissal when someone kept the words."""

    section: str
    finding: blameless.Finding
    dismissal: PostmortemDismissal | None


def findings_of(session: Session, actor: User, key: str) -> list[Advice]:
    """Advice on the newest version: each name of someone in the directory and each blame
    phrase, with its exact span in that section's text, and whether it was dismissed."""
    view = get_postmortem(session, actor, key)
    people = [u.name for u in auth.list_users(session) if u.is_active]
    words = blameless.word_list()
    dismissed = {
        (d.section, d.phrase): d
        for d in session.scalars(
            select(PostmortemDismissal).where(
                PostmortemDismissal.postmortem_id == view.postmortem.id
            )
        )
    }
    found = []
    for section, text in blameless.sections_to_check(view.document, template.TEXT_SECTIONS):
        for finding in blameless.check(text, words, people):
            found.append(Advice(section, finding, dismissed.get((section, finding.key))))
    return found


def dismiss_finding(session: Session, actor: User, key: str, section: str, text: str) -> Advice:
    """Keeps the words a finding points at; on the incident's timeline and audit log, and
    shown to the reviewer as dismissed by this person."""
    require_responder(actor, "dismiss blameless-check findings")
    wanted = " ".join(text.casefold().split())
    match = next(
        (
            a
            for a in findings_of(session, actor, key)
            if a.section == section and a.finding.key == wanted
        ),
        None,
    )
    if match is None:
        raise NotFound(f"No finding {text!r} in {section} of this postmortem.", field="text")
    if match.dismissal is not None:
        return match
    postmortem = _to_act_on(session, actor, key, "dismiss blameless-check findings")
    dismissal = PostmortemDismissal(
        postmortem_id=postmortem.id,
        section=section,
        phrase=wanted,
        dismissed_by=actor,
        dismissed_at=now(),
    )
    session.add(dismissal)
    _record(
        session,
        postmortem,
        actor,
        "postmortem_dismissal",
        f"{actor.name} kept {match.finding.text!r} in the postmortem despite the blameless check",
        {"section": section, "text": match.finding.text},
    )
    _commit(session)
    return Advice(section, match.finding, dismissal)


# ---------------------------------------------------------------- the Atom feed

FEED_PREFIX = "tpf"


def rotate_feed(session: Session, actor: User) -> str:
    """A new secret feed URL for `actor`; the old one stops working. Returns the token."""
    token, lookup, digest = secrets.new_keyed_secret(FEED_PREFIX)
    row = session.get(PostmortemFeed, actor.id)
    if row is None:
        row = PostmortemFeed(user_id=actor.id)
        session.add(row)
    row.lookup, row.secret_hash, row.created_at = lookup, digest, now()
    audit.record(
        session,
        actor.id,
        "user.postmortem_feed_rotated",
        "user",
        actor.id,
        "Postmortem feed rotated",
    )
    _commit(session)
    return token


def feed_reader(session: Session, token: object) -> User:
    """Whose feed this secret opens; any mismatch is a plain 404, saying nothing more."""
    parts = secrets.split_keyed_secret(token, FEED_PREFIX) if isinstance(token, str) else None
    row = (
        session.scalar(select(PostmortemFeed).where(PostmortemFeed.lookup == parts[0]))
        if parts
        else None
    )
    user = session.get(User, row.user_id) if row else None
    if (
        row is None
        or user is None
        or not user.is_active
        or not secrets.same_secret(parts[1], row.secret_hash)
    ):
        raise NotFound("No such postmortem feed; it may have been rotated.")
    return user


def atom_feed(session: Session, reader: User) -> bytes:
    """The newest published postmortems `reader` may see."""
    found = list_postmortems(
        session, reader, PostmortemFilters(status=[Status.PUBLISHED], limit=50)
    )
    entries = []
    for p in found:
        document = _revision(session, p, p.published_version or p.version).document
        entries.append(
            feed.Entry(
                key=p.incident.key,
                title=f"{p.incident.key}: {p.incident.summary}",
                summary=(document.get("summary") or "")[:2000],
                link=f"{rules().base_url}/postmortems/blog/{p.incident.key}",
                author=p.owner.name if p.owner else "Tocsin",
                published=p.published_at or p.created_at,
            )
        )
    return feed.atom(rules().base_url, entries, now())
