"""The FastAPI application: routers, middleware, error handling, and the engine in its lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from tocsin import __version__
from tocsin.alerts import api as alerts_api
from tocsin.alerts import receivers as alert_receivers
from tocsin.alerts import views as alerts_views
from tocsin.alerts.directory import IntegrationDirectory
from tocsin.alerts.fastpath import IngestFastPath
from tocsin.alerts.ingest import GroupCommitIngest, ServiceIngest
from tocsin.alerts.ratelimit import RateLimiter
from tocsin.auth import api as auth_api
from tocsin.auth import views as auth_views
from tocsin.catalogue import api as catalogue_api
from tocsin.catalogue import views as catalogue_views
from tocsin.comms import api as comms_api
from tocsin.comms import views as comms_views
from tocsin.config import Settings, get_settings
from tocsin.db import Database
from tocsin.deps import CurrentUser
from tocsin.engine.modules import all_modules
from tocsin.engine.runner import EngineRunner
from tocsin.incidents import api as incidents_api
from tocsin.incidents import views as incidents_views
from tocsin.oncall import api as oncall_api
from tocsin.oncall import views as oncall_views
from tocsin.paging import api as paging_api
from tocsin.paging import views as paging_views
from tocsin.postmortems import api as postmortems_api
from tocsin.postmortems import service as postmortems
from tocsin.postmortems import views as postmortems_views
from tocsin.reports import api as reports_api
from tocsin.reports import views as reports_views
from tocsin.statuspage import api as statuspage_api
from tocsin.statuspage import public as statuspage_public
from tocsin.statuspage import subscribers as statuspage_subscribers
from tocsin.statuspage import views as statuspage_views
from tocsin.statuspage.cache import PublicFastPath, StatusCache
from tocsin.web import health
from tocsin.web.errors import install_error_handlers
from tocsin.web.middleware import BodyLimit, SecurityHeaders
from tocsin.web.openapi import documented_openapi
from tocsin.web.secret_paths import keep_secrets_out_of_access_log
from tocsin.web.templating import render, render_error_page

# Refusals on the PagerDuty endpoint speak PagerDuty, whatever refuses them.
CONTRACT_SHAPES = {"/v2/enqueue": alert_receivers.pagerduty_refusal}
STATIC = Path(__file__).parent / "web" / "static"

DESCRIPTION = """Tocsin's REST API. Authenticate with a personal API token
(`Authorization: Bearer tsn_...`, created under Settings → API tokens).
Every error has the shape `{"error": {"code", "message", "field"}}`."""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database or Database(settings.database_url)
    engine = EngineRunner(db, all_modules(settings), settings.engine_tick_seconds)
    ingest = ServiceIngest(db, engine.wake) if db.is_sqlite else GroupCommitIngest(db, engine.wake)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ingest.start()
        if settings.gc_tuning:
            _tune_gc()
        if settings.run_engine:
            engine.start()
        try:
            yield
        finally:
            await ingest.stop()
            engine.stop()
            if database is None:
                db.dispose()

    app = FastAPI(
        title="Tocsin",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    keep_secrets_out_of_access_log()
    app.state.engine = engine
    app.state.alert_rate_limiter = RateLimiter()
    app.state.integrations = IntegrationDirectory(db)
    app.state.ingest = ingest
    app.state.status_cache = StatusCache(settings.base_url, db)
    statuspage_subscribers.use_base_url(settings.base_url)  # links in subscriber mail
    postmortems.use_settings(settings)  # major severities, due dates, approvers

    # Innermost: the sender endpoints skip FastAPI's routing (alerts/fastpath.py).
    app.add_middleware(IngestFastPath, state=app.state)
    app.add_middleware(BodyLimit, shapes=CONTRACT_SHAPES)
    # Fresh public status documents are answered before FastAPI's routing (statuspage/cache.py).
    app.add_middleware(PublicFastPath, cache=app.state.status_cache)
    # Outermost, so that every answer carries them, whoever gives it.
    app.add_middleware(
        SecurityHeaders, base_url=settings.base_url, hsts_seconds=settings.hsts_seconds
    )
    install_error_handlers(app, render_error_page, CONTRACT_SHAPES)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    app.include_router(health.router)
    app.include_router(reports_api.router)
    app.include_router(alert_receivers.router)
    api_routers = (
        auth_api.router,
        catalogue_api.router,
        incidents_api.router,
        alerts_api.router,
        paging_api.router,
        oncall_api.router,
        statuspage_api.router,
        comms_api.router,
        comms_api.room_router,
        postmortems_api.router,
    )
    for router in api_routers:
        app.include_router(router, prefix="/api/v1")
    for router in (
        auth_views.router,
        catalogue_views.router,
        incidents_views.router,
        alerts_views.router,
        paging_views.router,
        oncall_views.router,
        statuspage_views.router,
        statuspage_public.router,
        comms_views.router,
        postmortems_views.router,
        reports_views.router,
    ):
        app.include_router(router)
    _add_docs(app)
    return app


def _add_docs(app: FastAPI) -> None:
    """The OpenAPI schema and Swagger UI, behind a login like everything else."""
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request, _user: CurrentUser) -> HTMLResponse:
        # Our own page rather than FastAPI's, whose inline script the CSP refuses.
        return render(request, "api_docs.html")


def _tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
