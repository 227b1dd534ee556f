"""Incident keys stay unique and gap-free when many people declare at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from tocsin.auth.models import User
from tocsin.incidents import service
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate
from tocsin.timeline.models import TimelineEvent


def test_concurrent_declarations_get_distinct_consecutive_keys(db, responder):
    declarations = 40

    def declare(n: int) -> str:
        with db.begin() as session:
            actor = session.get(User, responder.id)
            data = IncidentCreate(summary=f"Outage seen by caller {n}", severity="SEV3")
            return service.declare_incident(session, actor, data).key

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(declare, range(declarations)))

    assert sorted(keys, key=lambda k: int(k[4:])) == [
        f"INC-{n}" for n in range(1, declarations + 1)
    ]
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == declarations
        declared = select(func.count()).where(TimelineEvent.kind == "declared")
        assert session.scalar(declared) == declarations


def test_a_failed_declaration_leaves_no_gap(db, responder, api_as):
    api = api_as(responder)
    assert (
        api.post("/api/v1/incidents", json={"summary": "a", "severity": "SEV3"}).status_code == 201
    )
    bad = api.post(
        "/api/v1/incidents", json={"summary": "b", "severity": "SEV3", "service_id": 999}
    )
    assert bad.status_code == 422
    after = api.post("/api/v1/incidents", json={"summary": "c", "severity": "SEV3"})
    assert after.json()["key"] == "INC-2"
