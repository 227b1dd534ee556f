"""Status page subscribers: email (double opt-in) or webhook, to a page or chosen components.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_subscribers",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("page_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_notification_id", BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_notification_id"],
            ["notifications.id"],
            name=op.f("fk_status_subscribers_last_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["status_pages.id"],
            name=op.f("fk_status_subscribers_page_id_status_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscribers")),
        sa.UniqueConstraint(
            "page_id", "kind", "address", name=op.f("uq_status_subscribers_address")
        ),
    )
    op.create_table(
        "status_subscriber_components",
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("component_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["status_components.id"],
            name=op.f("fk_status_subscriber_components_component_id_status_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["status_subscribers.id"],
            name=op.f("fk_status_subscriber_components_subscriber_id_status_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscriber_id", "component_id", name=op.f("pk_status_subscriber_components")
        ),
    )
    with op.batch_alter_table("status_subscriber_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_subscriber_components_component_id"),
            ["component_id"],
            unique=False,
        )
    op.create_table(
        "status_subscriber_links",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("lookup", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["status_subscribers.id"],
            name=op.f("fk_status_subscriber_links_subscriber_id_status_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscriber_links")),
        sa.UniqueConstraint("lookup", name=op.f("uq_status_subscriber_links_lookup")),
    )
    with op.batch_alter_table("status_subscriber_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_subscriber_links_subscriber_id"), ["subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_subscriber_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_subscriber_links_subscriber_id"))
    op.drop_table("status_subscriber_links")
    with op.batch_alter_table("status_subscriber_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_subscriber_components_component_id"))
    op.drop_table("status_subscriber_components")
    op.drop_table("status_subscribers")
