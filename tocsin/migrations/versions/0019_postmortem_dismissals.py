"""Dismissed findings of the blameless check, so the reviewer sees who kept which words.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 02:33:49
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postmortem_dismissals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "postmortem_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("section", sa.String(length=48), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column(
            "dismissed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dismissed_by_id"],
            ["users.id"],
            name=op.f("fk_postmortem_dismissals_dismissed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortems.id"],
            name=op.f("fk_postmortem_dismissals_postmortem_id_postmortems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_dismissals")),
        sa.UniqueConstraint(
            "postmortem_id",
            "section",
            "phrase",
            name=op.f("uq_postmortem_dismissals_postmortem_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("postmortem_dismissals")
