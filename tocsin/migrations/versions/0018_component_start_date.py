"""Status page components get a start date (uptime is measured from it; earlier days are
"no data"), and a table for past days' downtime imported from another tool.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_components") as batch:
        batch.add_column(sa.Column("start_date", sa.Date(), nullable=True))
    op.create_table(
        "status_component_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("downtime_seconds", sa.Float(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["status_components.id"],
            name=op.f("fk_status_component_days_component_id_status_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_component_days")),
        sa.UniqueConstraint(
            "component_id", "day", name=op.f("uq_status_component_days_component_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("status_component_days")
    with op.batch_alter_table("status_components") as batch:
        batch.drop_column("start_date")
