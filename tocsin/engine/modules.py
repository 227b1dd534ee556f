"""The list of engine modules that `tocsin serve` and `tocsin worker` run."""

from __future__ import annotations

from tocsin.engine.alert_router import AlertRouter
from tocsin.engine.heartbeats import MissedHeartbeats
from tocsin.engine.housekeeping import ExpiredLogins, SqliteStatistics
from tocsin.engine.runner import EngineModule


def all_modules() -> list[EngineModule]:
    """In the order of a pass: heartbeats may raise alerts, which the router then routes."""
    return [MissedHeartbeats(), AlertRouter(), ExpiredLogins(), SqliteStatistics()]
