"""Reads the figures the reports show; nothing here writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tocsin import __version__, migrations
from tocsin.alerts import service as alerts
from tocsin.auth.models import Role, User
from tocsin.auth.permissions import require_admin, require_role
from tocsin.incidents import service as incidents
from tocsin.paging import service as paging
from tocsin.reports.schemas import EngineBacklog, HealthReport, OperationsSnapshot
from tocsin.statuspage import service as statuspage


def operations_snapshot(session: Session, actor: User, at: datetime) -> OperationsSnapshot:
    """What the team running Tocsin watches: open work, the outbox, and whether the engine
    keeps up. Read from the database, so every server process answers the same."""
    require_role(actor, Role.VIEWER, "read Tocsin's metrics")
    return OperationsSnapshot(
        version=__version__,
        database=session.bind.dialect.name,
        open_alerts=alerts.open_alert_counts(session),
        active_incidents=incidents.active_counts(session, actor),
        active_pages=paging.active_page_count(
            session, (incidents.SUBJECT, incidents.hidden_from(session, actor))
        ),
        outbox=paging.outbox_counts(session),
        backlog=EngineBacklog(
            alert_routing=_waited(alerts.oldest_unrouted(session), at),
            escalation=_waited(paging.oldest_due_step(session, at), at),
            delivery=_waited(paging.oldest_due_delivery(session, at), at),
            heartbeats=_waited(alerts.oldest_silent_heartbeat(session, at), at),
            subscriber_updates=_waited(statuspage.oldest_untold_update(session), at),
        ),
    )


def health(session: Session, actor: User, at: datetime) -> HealthReport:
    """The operator's page: whether the engine keeps up and which deliveries went wrong,
    with addresses and errors, so admins only."""
    require_admin(actor, "see Tocsin's health")
    current = migrations.current_revision(session.get_bind())
    return HealthReport(
        snapshot=operations_snapshot(session, actor, at),
        schema_revision=current,
        schema_current=current == migrations.head_revision(),
        delivery_problems=paging.delivery_problems(session),
    )


def _waited(since: datetime | None, at: datetime) -> float:
    return 0.0 if since is None else max(0.0, (at - since).total_seconds())
