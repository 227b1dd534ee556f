"""Full-text search over published postmortems, one API on both databases: SQLite's FTS5
(porter stemming) and PostgreSQL's tsvector with a GIN index, in `postmortem_search`.

The service indexes a postmortem in the transaction that publishes it; the row goes with it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from tocsin.postmortems import template
from tocsin.postmortems.models import Postmortem

WORD = re.compile(r"\w+", re.UNICODE)


def _postgres(session: Session) -> bool:
    return session.bind.dialect.name == "postgresql"


def index(session: Session, postmortem: Postmortem, document: dict[str, Any]) -> None:
    """The published words of `postmortem`, replacing what was indexed before."""
    body = f"{postmortem.incident.key} {postmortem.incident.summary}\n" + template.plain_text(
        document
    )
    if _postgres(session):
        session.execute(
            text(
                "INSERT INTO postmortem_search (postmortem_id, vector)"
                " VALUES (:id, to_tsvector('english', :body))"
                " ON CONFLICT (postmortem_id) DO UPDATE SET vector = excluded.vector"
            ),
            {"id": postmortem.id, "body": body},
        )
        return
    session.execute(text("DELETE FROM postmortem_search WHERE rowid = :id"), {"id": postmortem.id})
    session.execute(
        text("INSERT INTO postmortem_search (rowid, body) VALUES (:id, :body)"),
        {"id": postmortem.id, "body": body},
    )


def terms(query: str) -> list[str]:
    """The words of a query; punctuation and search syntax are not operators here."""
    return WORD.findall(query)[:20]


def matching(session: Session, query: str) -> list[int]:
    """Ids of the postmortems whose published text has every word of `query`."""
    words = terms(query)
    if not words:
        return []
    if _postgres(session):
        found = session.execute(
            text(
                "SELECT postmortem_id FROM postmortem_search"
                " WHERE vector @@ plainto_tsquery('english', :q)"
            ),
            {"q": " ".join(words)},
        )
    else:
        quoted = " ".join('"' + w.replace('"', "") + '"' for w in words)
        found = session.execute(
            text("SELECT rowid FROM postmortem_search WHERE postmortem_search MATCH :q"),
            {"q": quoted},
        )
    return [row[0] for row in found]
