"""Liveness and readiness, open to load balancers without a login."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tocsin import migrations
from tocsin.errors import error_body

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the revision this code expects."""
    engine = request.app.state.db.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrations.current_revision(engine)
    except SQLAlchemyError as failure:
        message = f"The database is unreachable: {type(failure).__name__}."
        return JSONResponse(error_body("database_unreachable", message), status_code=503)
    head = migrations.head_revision()
    if current != head:
        message = (
            f"The schema is at {current or 'nothing'}, the code needs {head}: "
            "run 'tocsin db upgrade'."
        )
        return JSONResponse(error_body("migrations_pending", message), status_code=503)
    return JSONResponse({"status": "ready", "database": engine.dialect.name, "revision": current})
