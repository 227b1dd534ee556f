"""The incident room: its chat messages, and the video call link on the incident.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Never a rebuilt table on SQLite: dropping the old incidents table would cascade.
    with op.batch_alter_table("incidents", recreate="never") as batch:
        batch.add_column(
            sa.Column("video_url", sa.String(length=500), server_default="", nullable=False)
        )
    op.create_table(
        "room_messages",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("author_id", BIG_ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_room_messages_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_room_messages_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_messages")),
    )
    op.create_index(
        "ix_room_messages_incident_id_id", "room_messages", ["incident_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_room_messages_incident_id_id", table_name="room_messages")
    op.drop_table("room_messages")
    with op.batch_alter_table("incidents", recreate="never") as batch:
        batch.drop_column("video_url")
