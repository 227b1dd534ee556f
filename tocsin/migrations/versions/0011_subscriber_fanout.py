"""Status page and maintenance updates are told to subscribers by the engine, not inside
the request.

`subscribers_told_at` stays null until the engine has queued an update's notifications;
`subscriber_plan` keeps what the subscribers are told as of the update (the components it
concerns, the Statuspage webhook document). Updates made before this revision were told
when they were posted.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNTOLD = sa.text("subscribers_told_at IS NULL")
TABLES = ("status_incident_updates", "status_maintenance_updates")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(
                sa.Column("subscribers_told_at", sa.DateTime(timezone=True), nullable=True)
            )
        op.execute(f"UPDATE {table} SET subscribers_told_at = created_at")
        op.create_index(
            f"ix_{table}_untold", table, ["id"], postgresql_where=UNTOLD, sqlite_where=UNTOLD
        )
    with op.batch_alter_table("status_incident_updates", recreate="never") as batch:
        batch.add_column(
            sa.Column(
                "subscriber_plan",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    # Never a rebuilt table on SQLite: dropping the old one would cascade to its children.
    with op.batch_alter_table("status_incident_updates", recreate="never") as batch:
        batch.drop_column("subscriber_plan")
    for table in TABLES:
        op.drop_index(f"ix_{table}_untold", table_name=table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("subscribers_told_at")
