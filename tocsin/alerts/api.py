"""REST routes for integrations, alerts, alert rules and maintenance windows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tocsin.alerts import service
from tocsin.alerts.schemas import (
    AlertFilters,
    AlertOut,
    AlertSummaryOut,
    AttachToIncident,
    DeclareFromAlert,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
    IntegrationUpdate,
    MaintenanceCreate,
    MaintenanceOut,
    RuleOut,
    RulesReplace,
    TestAlertIn,
)
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.incidents.schemas import IncidentOut, TimelineEventOut
from tocsin.paging.schemas import PageOut
from tocsin.schemas import Page

router = APIRouter()


def _shown(
    session: DbSession,
    user: CurrentUser,
    alert: object,
    shape: type[AlertSummaryOut] = AlertOut,
) -> AlertSummaryOut:
    """The alert as this caller may see it (a restricted linked incident is redacted)."""
    return service.alert_out(session, user, alert, shape)


def _created(request: Request, integration: object, key: str) -> IntegrationCreated:
    out = IntegrationOut.model_validate(integration).model_dump()
    url = service.integration_url(request.app.state.settings.base_url, integration, key)
    return IntegrationCreated.model_validate({**out, "key": key, "url": url})


@router.get("/integrations", response_model=list[IntegrationOut], tags=["integrations"])
def list_integrations(
    user: CurrentUser,
    session: DbSession,
    service_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> object:
    return service.list_integrations(session, service_id)


@router.post(
    "/integrations", response_model=IntegrationCreated, status_code=201, tags=["integrations"]
)
def create_integration(
    body: IntegrationCreate, request: Request, user: CurrentUser, session: DbSession
) -> object:
    """The key is in this answer only; it is stored as a hash."""
    integration, key = service.create_integration(session, user, body)
    return _created(request, integration, key)


@router.get("/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"])
def get_integration(integration_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_integration(session, integration_id)


@router.patch(
    "/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"]
)
def update_integration(
    integration_id: IdPath,
    body: IntegrationUpdate,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> object:
    integration = service.update_integration(session, user, integration_id, body)
    request.app.state.integrations.forget()  # a new rate limit applies at once
    return integration


@router.post(
    "/integrations/{integration_id}/rotate",
    response_model=IntegrationCreated,
    tags=["integrations"],
)
def rotate_key(
    integration_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> object:
    """A new key; the old one stops working at once."""
    integration, key = service.rotate_integration_key(session, user, integration_id)
    request.app.state.integrations.forget()
    return _created(request, integration, key)


@router.post(
    "/integrations/{integration_id}/test-alert",
    response_model=AlertOut,
    status_code=201,
    tags=["integrations"],
)
def send_test_alert(
    integration_id: IdPath, body: TestAlertIn, user: CurrentUser, session: DbSession
) -> object:
    """Sends a real alert through the integration: it is routed and pages like any other."""
    alert = service.send_test_alert(session, user, integration_id, body.severity)
    return _shown(session, user, alert)


@router.delete("/integrations/{integration_id}", status_code=204, tags=["integrations"])
def delete_integration(
    integration_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    service.delete_integration(session, user, integration_id)
    request.app.state.integrations.forget()
    return Response(status_code=204)


@router.get("/alerts", response_model=Page[AlertSummaryOut], tags=["alerts"])
def list_alerts(
    filters: Annotated[AlertFilters, Query()], user: CurrentUser, session: DbSession
) -> object:
    """Newest first, without details (`GET /alerts/{id}` has them). Pass `next_cursor` back as
    `cursor` for the next page."""
    items, next_cursor = service.list_alerts(session, filters)
    shown = [_shown(session, user, a, AlertSummaryOut) for a in items]
    return {"items": shown, "next_cursor": next_cursor}


@router.get("/alerts/{alert_id}", response_model=AlertOut, tags=["alerts"])
def get_alert(alert_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return _shown(session, user, service.get_alert(session, alert_id))


@router.get("/alerts/{alert_id}/timeline", response_model=list[TimelineEventOut], tags=["alerts"])
def alert_timeline(alert_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.alert_timeline(session, user, alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, tags=["alerts"])
def acknowledge(alert_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return _shown(session, user, service.acknowledge_alert(session, user, alert_id))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, tags=["alerts"])
def resolve(alert_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return _shown(session, user, service.resolve_alert(session, user, alert_id))


@router.post(
    "/alerts/{alert_id}/incident", response_model=IncidentOut, status_code=201, tags=["alerts"]
)
def declare_incident(
    alert_id: IdPath, body: DeclareFromAlert, user: CurrentUser, session: DbSession
) -> object:
    """Declares an incident from the alert (title, service, severity from its own) and links it."""
    return service.declare_incident_from_alert(session, user, alert_id, body.severity, body.summary)


@router.post("/alerts/{alert_id}/attach", response_model=AlertOut, tags=["alerts"])
def attach(
    alert_id: IdPath, body: AttachToIncident, user: CurrentUser, session: DbSession
) -> object:
    """Links the alert to an existing incident; it then shows on the incident's timeline."""
    return _shown(
        session, user, service.attach_to_incident(session, user, alert_id, body.incident_key)
    )


@router.get("/services/{service_id}/alert-rules", response_model=list[RuleOut], tags=["alerts"])
def get_rules(service_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.rules_of_service(session, service_id)


@router.put("/services/{service_id}/alert-rules", response_model=list[RuleOut], tags=["alerts"])
def replace_rules(
    service_id: IdPath, body: RulesReplace, user: CurrentUser, session: DbSession
) -> object:
    """In order; the first rule matching an alert's severity decides. Empty: page all but info."""
    return service.replace_rules(session, user, service_id, body.rules)


@router.get("/maintenance-windows", response_model=list[MaintenanceOut], tags=["alerts"])
def list_maintenance(
    user: CurrentUser,
    session: DbSession,
    service_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> object:
    """Current and future windows."""
    return service.list_maintenance(session, service_id)


@router.post(
    "/maintenance-windows", response_model=MaintenanceOut, status_code=201, tags=["alerts"]
)
def create_maintenance(body: MaintenanceCreate, user: CurrentUser, session: DbSession) -> object:
    return service.create_maintenance(session, user, body)


@router.delete("/maintenance-windows/{window_id}", status_code=204, tags=["alerts"])
def end_maintenance(window_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.end_maintenance(session, user, window_id)
    return Response(status_code=204)


@router.get("/alerts/{alert_id}/pages", response_model=list[PageOut], tags=["alerts"])
def alert_pages(alert_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Escalations this alert started, newest first."""
    return service.pages_of(session, alert_id)


@router.post("/alerts/{alert_id}/pages/{page_id}/escalate", response_model=PageOut, tags=["alerts"])
def escalate(alert_id: IdPath, page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Fires the page's next level now instead of waiting for its delay."""
    return service.escalate_page(session, user, alert_id, page_id)
