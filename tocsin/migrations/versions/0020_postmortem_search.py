"""Full-text search over published postmortems: an FTS5 table on SQLite, a tsvector with a
GIN index on PostgreSQL, both named postmortem_search and kept by the service on publishing
(migrations/env.py leaves them out of the model comparison).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE postmortem_search ("
            " postmortem_id BIGINT PRIMARY KEY REFERENCES postmortems (id) ON DELETE CASCADE,"
            " vector TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX postmortem_search_vector ON postmortem_search USING gin (vector)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE postmortem_search USING fts5(body, tokenize='porter unicode61')"
    )
    # The index row goes with its postmortem (an incident deleted, a test emptying tables).
    op.execute(
        "CREATE TRIGGER postmortem_search_forget AFTER DELETE ON postmortems BEGIN"
        " DELETE FROM postmortem_search WHERE rowid = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS postmortem_search_forget")
    op.execute("DROP TABLE IF EXISTS postmortem_search")
