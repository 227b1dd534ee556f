"""An index of the alerts maintenance kept quiet that still fire: the engine looks for them
on every pass, to route them once the maintenance is over.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUPPRESSED_FIRING = sa.text("suppressed AND status = 'triggered'")


def upgrade() -> None:
    op.create_index(
        "ix_alerts_suppressed_firing",
        "alerts",
        ["id"],
        postgresql_where=SUPPRESSED_FIRING,
        sqlite_where=SUPPRESSED_FIRING,
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_suppressed_firing", table_name="alerts")
