"""Recording and reading the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit.models import AuditEntry


def record(
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: object,
    summary: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Adds an entry to the caller's transaction, so it lands exactly when the change does."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            summary=summary,
            details=details or {},
        )
    )


def entries(
    session: Session, *, limit: int = 100, before_id: int | None = None
) -> list[AuditEntry]:
    """Newest first. Callers check that the reader is an admin."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))
