"""An index of the notifications not yet sent, so /metrics counts them without a full scan.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = sa.text("status IN ('pending', 'sending', 'failed')")


def upgrade() -> None:
    op.create_index(
        "ix_notifications_unsent",
        "notifications",
        ["status"],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unsent", table_name="notifications")
