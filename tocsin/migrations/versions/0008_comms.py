"""Stakeholder updates: channels, the updates sent, and each incident's reminder state.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "stakeholder_channels",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_stakeholder_channels_name")),
    )
    op.create_table(
        "stakeholder_updates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("author_id", BIG_ID, nullable=True),
        sa.Column("audiences", JSON_DOC, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public_body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_stakeholder_updates_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_stakeholder_updates_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_updates")),
    )
    op.create_index(
        "ix_stakeholder_updates_incident_id_sent_at",
        "stakeholder_updates",
        ["incident_id", "sent_at"],
        unique=False,
    )
    op.create_table(
        "stakeholder_update_reminders",
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_stakeholder_update_reminders_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_stakeholder_update_reminders")),
    )


def downgrade() -> None:
    op.drop_table("stakeholder_update_reminders")
    op.drop_index("ix_stakeholder_updates_incident_id_sent_at", table_name="stakeholder_updates")
    op.drop_table("stakeholder_updates")
    op.drop_table("stakeholder_channels")
