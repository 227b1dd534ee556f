"""Helpers for alerting tests: a service with an integration, and the engine driven by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.config import Settings
from tocsin.db import Database
from tocsin.engine.modules import all_modules
from tocsin.engine.runner import EngineRunner


def make_integration(api: Any, kind: str, service: str = "payments", **extra: Any) -> dict:
    """Creates the service when needed and an integration of `kind` on it (as an admin client)."""
    existing = {s["name"]: s["id"] for s in api.get("/api/v1/services").json()}
    service_id = (
        existing.get(service) or api.post("/api/v1/services", json={"name": service}).json()["id"]
    )
    body = {"service_id": service_id, "name": f"{kind} of {service}", "kind": kind, **extra}
    created = api.post("/api/v1/integrations", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def run_engine(
    db: Database, settings: Settings | None = None, at: datetime | None = None
) -> dict[str, int]:
    """One pass of every engine module at the current (test) time, or at `at`."""
    settings = settings or Settings(database_url=db.url, base_url="http://testserver")
    return EngineRunner(db, all_modules(settings)).run_once(at)
