"""`GET /metrics`: Prometheus scrapes it with an API token (`authorization` in its config)."""

from __future__ import annotations

from fastapi import APIRouter, Response

# The classic text format, which every Prometheus version reads; no name here needs escaping.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from tocsin.db import now
from tocsin.deps import CurrentUser, DbSession
from tocsin.reports import exposition, service

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(user: CurrentUser, session: DbSession) -> Response:
    """Tocsin's own figures in the Prometheus text format (see README, Monitoring Tocsin)."""
    snapshot = service.operations_snapshot(session, user, now())
    return Response(exposition.render(snapshot), media_type=CONTENT_TYPE_PLAIN_0_0_4)
