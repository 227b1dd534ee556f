"""Alert rules keep the meaning they had when they were written.

Until this revision a severity no rule named was only logged; from now on it keeps the
default (page; info is logged). A service that already has rules and no rule for every
severity gets one at the end, "any severity: only log", so nothing it was quiet about
starts to page on upgrade.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Services with rules but none for every severity: the old fallback, made explicit.
    op.execute(
        sa.text(
            "INSERT INTO alert_rules (service_id, position, severity, action, incident_severity) "
            "SELECT service_id, MAX(position) + 1, NULL, 'log', NULL FROM alert_rules "
            "GROUP BY service_id "
            "HAVING SUM(CASE WHEN severity IS NULL THEN 1 ELSE 0 END) = 0"
        )
    )


def downgrade() -> None:
    # Under the old meaning an "any severity: only log" rule at the end changes nothing.
    pass
