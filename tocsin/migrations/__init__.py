"""Schema migrations (Alembic), run by `tocsin db upgrade`; `tocsin serve` refuses a stale schema.

Revisions are compared as the sorted, comma-joined set of heads, so work that branched
(two migrations written side by side) upgrades and reports correctly until it is merged.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ",".join(sorted(ScriptDirectory(str(HERE)).get_heads())) or None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None
