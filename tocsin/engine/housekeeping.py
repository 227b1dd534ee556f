"""Housekeeping: expired login sessions are deleted, so the table does not grow forever."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from tocsin.auth.models import LoginSession
from tocsin.db import Database


class ExpiredLogins:
    name = "expired_logins"
    batch = 500

    def run_due(self, db: Database, at: datetime) -> int:
        with db.begin() as session:
            ids = list(
                session.scalars(
                    select(LoginSession.id).where(LoginSession.expires_at <= at).limit(self.batch)
                )
            )
            if ids:
                session.execute(delete(LoginSession).where(LoginSession.id.in_(ids)))
                session.commit()
            return len(ids)
