"""The list of engine modules that `tocsin serve` and `tocsin worker` run."""

from __future__ import annotations

from tocsin.engine.housekeeping import ExpiredLogins
from tocsin.engine.runner import EngineModule


def all_modules() -> list[EngineModule]:
    return [ExpiredLogins()]
