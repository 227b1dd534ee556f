"""Alembic environment: the URL comes from `alembic_config(url)`, never from a file."""

from typing import Any

from alembic import context
from sqlalchemy import JSON, pool

from tocsin.db import UTCDateTime, make_engine
from tocsin.tables import metadata

config = context.config
url = config.attributes["url"]


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations name plain SQLAlchemy types, so they never depend on tocsin's own code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Full-text search tables are the database's own kind (FTS5, tsvector): not in the models."""
    return not (type_ in ("table", "index") and (name or "").startswith("postmortem_search"))


def run_migrations_online() -> None:
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
