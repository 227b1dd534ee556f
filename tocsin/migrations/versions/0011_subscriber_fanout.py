"""Status page updates are told to subscribers by the engine, not inside the request.

`subscribers_told_at` stays null until the engine has queued an update's notifications;
updates made before this revision were told when they were posted.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNTOLD = sa.text("subscribers_told_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("status_incident_updates") as batch:
        batch.add_column(
            sa.Column("subscribers_told_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE status_incident_updates SET subscribers_told_at = created_at")
    op.create_index(
        "ix_status_incident_updates_untold",
        "status_incident_updates",
        ["id"],
        postgresql_where=UNTOLD,
        sqlite_where=UNTOLD,
    )


def downgrade() -> None:
    op.drop_index("ix_status_incident_updates_untold", table_name="status_incident_updates")
    with op.batch_alter_table("status_incident_updates") as batch:
        batch.drop_column("subscribers_told_at")
