"""The public subscribe form's send counts, and indexes for housekeeping to prune what it
leaves behind (never-confirmed subscribers, old mailed links).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_send_counts",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_send_counts")),
    )
    op.create_index(
        op.f("ix_form_send_counts_window_ends_at"), "form_send_counts", ["window_ends_at"]
    )
    op.create_index(
        op.f("ix_status_subscriber_links_created_at"), "status_subscriber_links", ["created_at"]
    )
    op.create_index(
        "ix_status_subscribers_unconfirmed",
        "status_subscribers",
        ["created_at"],
        sqlite_where=sa.text("confirmed_at IS NULL"),
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_status_subscribers_unconfirmed", table_name="status_subscribers")
    op.drop_index(
        op.f("ix_status_subscriber_links_created_at"), table_name="status_subscriber_links"
    )
    op.drop_index(op.f("ix_form_send_counts_window_ends_at"), table_name="form_send_counts")
    op.drop_table("form_send_counts")
