"""Incident list filters: (service_id, number) and (incident_manager_id, number) indexes.

A list filtered by service or incident manager is read newest first. With an index
on the filter column alone, SQLite reads and sorts every matching incident on each
page (bench/RESULTS.md); with the number after the column it reads one page.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_service_id_number", "incidents", ["service_id", "number"], unique=False
    )
    op.drop_index("ix_incidents_service_id", table_name="incidents")
    op.create_index(
        "ix_incidents_incident_manager_id_number",
        "incidents",
        ["incident_manager_id", "number"],
        unique=False,
    )
    op.drop_index("ix_incidents_incident_manager_id", table_name="incidents")


def downgrade() -> None:
    op.create_index(
        "ix_incidents_incident_manager_id", "incidents", ["incident_manager_id"], unique=False
    )
    op.drop_index("ix_incidents_incident_manager_id_number", table_name="incidents")
    op.create_index("ix_incidents_service_id", "incidents", ["service_id"], unique=False)
    op.drop_index("ix_incidents_service_id_number", table_name="incidents")
