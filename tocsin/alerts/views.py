"""Alert pages: the list, the alert page with its actions, and a service's alerting set-up."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from tocsin.alerts import routing, service
from tocsin.alerts.events import AlertSeverity, AlertStatus
from tocsin.alerts.models import Integration, IntegrationKind, RuleAction
from tocsin.alerts.schemas import (
    AlertFilters,
    AttachToIncident,
    DeclareFromAlert,
    IntegrationCreate,
    IntegrationUpdate,
    MaintenanceCreate,
    RulesReplace,
    TestAlertIn,
)
from tocsin.auth.models import User
from tocsin.auth.permissions import Role, has_role
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.db import now
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import Forbidden, InvalidInput, NotFound, TocsinError
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentFilters
from tocsin.incidents.workflow import ACTIVE_STATUSES, SEVERITY_HELP, Severity
from tocsin.oncall import service as oncall
from tocsin.paging import service as paging
from tocsin.web.forms import FormBody, local_datetime, parse, text
from tocsin.web.page_sections import add_section
from tocsin.web.templating import act_and_return, local_input_value, redirect, render

router = APIRouter(include_in_schema=False)
LINKED_ALERTS_SHOWN = 20
ATTACH_CHOICES = 30

# The status filter: "open" (the default) stands for both statuses someone must look at.
OPEN = "open"
ALL = "all"
OPEN_STATUSES = (AlertStatus.TRIGGERED.value, AlertStatus.ACKNOWLEDGED.value)
TABS: tuple[tuple[str, str], ...] = (("Open", OPEN), ("Triggered", "triggered"), ("All", ALL))

# A new key travels from the form post to the page that shows it in this cookie, scoped to
# that page and read once, so a reload (or anyone later) never sees it again.
NEW_KEY_COOKIE = "tocsin_new_key"
NEW_KEY_SECONDS = 120

KIND_HELP: dict[str, tuple[str, str]] = {
    IntegrationKind.ALERTMANAGER.value: (
        "Prometheus Alertmanager",
        "a webhook receiver in alertmanager.yml; each alert is deduplicated by its fingerprint",
    ),
    IntegrationKind.PAGERDUTY.value: (
        "PagerDuty Events API v2",
        "for any tool that can send to PagerDuty: point it at Tocsin with this routing key",
    ),
    IntegrationKind.WEBHOOK.value: (
        "Webhook",
        "plain JSON from scripts and tools without a native format",
    ),
    IntegrationKind.HEARTBEAT.value: (
        "Heartbeat",
        "a job pings Tocsin; a missed ping raises an alert",
    ),
}

ACTION_HELP: dict[str, str] = {
    RuleAction.PAGE.value: "Page the on-call",
    RuleAction.INCIDENT.value: "Declare an incident and page",
    RuleAction.LOG.value: "Only log it, page nobody",
}

# Empty rows below the saved rules: enough to start with, few enough to stay short on a phone.
EXTRA_RULE_ROWS = 3
EXTRA_RULE_ROWS_AFTER_SAVED = 2
MAX_RULES = 20


def _alert_page(alert_id: int) -> str:
    return f"/alerts/{alert_id}"


def _alerting_page(service_id: int) -> str:
    return f"/services/{service_id}/alerting"


# ---------------------------------------------------------------- the list


def _status_choice(value: str) -> list[str]:
    if value == OPEN:
        return list(OPEN_STATUSES)
    return [] if value == ALL else [value]


@router.get("/alerts", response_class=HTMLResponse)
def list_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    params = request.query_params
    status_value = params.get("status") or OPEN
    values: dict[str, Any] = {
        "status": _status_choice(status_value),
        "severity": [s for s in params.getlist("severity") if s],
        "service_id": params.get("service_id") or None,
        "q": params.get("q", ""),
        "cursor": params.get("cursor") or None,
    }
    filters = parse(AlertFilters, values)
    alerts, next_cursor = service.list_alerts(session, filters)
    query = request.url.include_query_params(cursor=next_cursor).query if next_cursor else ""
    chosen = {k: v for k, v in params.multi_items() if k != "cursor" and v}
    chosen.setdefault("status", OPEN)
    tabs = [
        {
            "label": label,
            "url": "/alerts" + ("" if wanted == OPEN else f"?{urlencode({'status': wanted})}"),
            "current": chosen == {"status": wanted},
        }
        for label, wanted in TABS
    ]
    context = {
        "alerts": alerts,
        "hidden_incidents": incidents.hidden_from(session, user),
        "hidden_incident": service.HIDDEN_INCIDENT,
        "filters": filters,
        "status_value": status_value,
        "tabs": tabs,
        "filtered": chosen != {"status": OPEN},
        "next_url": f"/alerts?{query}" if next_cursor else None,
        "services": catalogue.list_services(session),
        "statuses": list(AlertStatus),
        "severities": list(AlertSeverity),
    }
    return render(request, "alerts/list.html", context)


# ---------------------------------------------------------------- one alert


def _web_links(links: list[dict[str, str]]) -> list[dict[str, str]]:
    """Links a sender gave, clickable only when they are http(s): never javascript: or data:."""
    shown = []
    for link in links:
        href = str(link.get("href", "")).strip()
        label = str(link.get("text") or link.get("alt") or href)
        shown.append({"href": href, "text": label, "web": bool(re.match(r"https?://", href, re.I))})
    return shown


def _annotations(details: Any) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """What Alertmanager's annotations say (description, ...) and the links among them
    (runbook_url, dashboard, ...), so the on-call reads them without opening the JSON.
    The summary is the title already."""
    annotations = details.get("annotations") if isinstance(details, dict) else None
    if not isinstance(annotations, dict):
        return [], []
    said, links = [], []
    for key, value in sorted(annotations.items()):
        if key == "summary" or not isinstance(value, str) or not value.strip():
            continue
        label = key.removesuffix("_url").replace("_", " ").strip().capitalize() or key
        if re.match(r"https?://\S+$", value.strip(), re.I):
            links.append({"href": value.strip(), "text": label, "web": True})
        else:
            said.append((label, value))
    description = [item for item in said if item[0] == "Description"]
    return description + [item for item in said if item[0] != "Description"], links


def _attach_choices(session: Session, user: User, alert: Any) -> list[Any]:
    """Open incidents to attach the alert to, its own service's first: no key to remember."""
    if alert.incident_id is not None or not has_role(user, Role.RESPONDER):
        return []
    active = sorted(ACTIVE_STATUSES)
    own = IncidentFilters(status=active, service_id=alert.service_id, limit=ATTACH_CHOICES)
    found, _cursor = incidents.list_incidents(session, user, own)
    others, _cursor = incidents.list_incidents(
        session, user, IncidentFilters(status=active, limit=ATTACH_CHOICES)
    )
    found += [i for i in others if i.service_id != alert.service_id]
    return found[:ATTACH_CHOICES]


def _visible_incident(session: Any, user: User, alert: Any) -> Any:
    """The linked incident when this person may see it (restricted ones stay hidden)."""
    if alert.incident is None:
        return None
    try:
        return incidents.get_incident(session, user, alert.incident.key)
    except NotFound:
        return None


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    alert = service.get_alert(session, alert_id)
    can_act = has_role(user, Role.RESPONDER)
    severity = AlertSeverity(alert.severity)
    pages = service.pages_of(session, alert_id)
    annotations, annotation_links = _annotations(alert.details)
    context = {
        "alert": alert,
        "incident": _visible_incident(session, user, alert),
        "hidden_incident": service.HIDDEN_INCIDENT,
        "timeline": service.alert_timeline(session, user, alert_id),
        "can_act": can_act,
        "links": _web_links(alert.links or []) + annotation_links,
        "annotations": annotations,
        "attach_choices": _attach_choices(session, user, alert),
        "images": _web_links(alert.images or []),
        "payload": json.dumps(alert.details or {}, indent=2, ensure_ascii=False, sort_keys=True),
        "severities": list(Severity),
        "severity_help": SEVERITY_HELP,
        "default_severity": routing.INCIDENT_SEVERITY_FOR[severity],
        "pages": pages,
        "page_facts": paging.facts_of_pages(session, pages),
        "nobody_paged": paging.nobody_paged(session, pages),
        "has_policy": oncall.policy_of_service(session, alert.service_id) is not None,
    }
    return render(request, "alerts/show.html", context)


@router.post("/alerts/{alert_id}/pages/{page_id}/escalate")
def escalate(
    alert_id: IdPath, page_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    try:
        service.escalate_page(session, user, alert_id, page_id)
    except TocsinError as refused:
        return redirect(f"/alerts/{alert_id}", f"error|{refused.message}")
    return redirect(f"/alerts/{alert_id}", "ok|The next level is paged now.")


def _on_alert(alert_id: int, action: Callable[[], str]) -> Response:
    """Runs one form action and returns to the alert page with what happened."""
    return act_and_return(_alert_page(alert_id), action)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        alert = service.acknowledge_alert(session, user, alert_id)
        return f"{alert.key} is acknowledged."

    return _on_alert(alert_id, act)


@router.post("/alerts/{alert_id}/resolve")
def resolve(alert_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        alert = service.resolve_alert(session, user, alert_id)
        return f"{alert.key} is resolved."

    return _on_alert(alert_id, act)


@router.post("/alerts/{alert_id}/incident")
def declare_incident(
    alert_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    try:
        chosen = parse(DeclareFromAlert, {"severity": text(form, "severity") or None})
        incident = service.declare_incident_from_alert(session, user, alert_id, chosen.severity)
    except TocsinError as refused:
        return redirect(_alert_page(alert_id), f"error|{refused.message}")
    return redirect(
        f"/incidents/{incident.key}",
        f"ok|{incident.key} is declared from ALR-{alert_id}. You are its incident manager.",
    )


@router.post("/alerts/{alert_id}/attach")
def attach(alert_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        chosen = parse(AttachToIncident, {"incident_key": text(form, "incident_key").strip()})
        alert = service.attach_to_incident(session, user, alert_id, chosen.incident_key)
        incident = incidents.get_incident(session, user, chosen.incident_key)
        return f"{alert.key} is linked to {incident.key}."

    return _on_alert(alert_id, act)


# ---------------------------------------------------------------- a service's alerting set-up


def every(seconds: int | None) -> str:
    """A heartbeat interval as people say it: '5 min', '90 s'."""
    seconds = seconds or 0
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _receiver_name(service_: Service) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", service_.name.lower()).strip("-")
    return f"tocsin-{slug or service_.id}"


def setup_guide(integration: Integration, service_: Service, url: str, key: str) -> dict[str, str]:
    """What to paste where, for the kind of sender: the URL, and a snippet ready to copy."""
    receiver = _receiver_name(service_)
    kind = integration.kind
    if kind == IntegrationKind.ALERTMANAGER:
        snippet = (
            "receivers:\n"
            f"  - name: {receiver}\n"
            "    webhook_configs:\n"
            f"      - url: {url}\n"
            "        send_resolved: true\n"
            "# then send alerts to it from a route, e.g.\n"
            "# route:\n"
            f"#   receiver: {receiver}\n"
        )
        return {
            "title": "Connect Alertmanager",
            "where": "Add this receiver to alertmanager.yml, send alerts to it from a route, "
            "and reload Alertmanager.",
            "snippet": snippet,
            "snippet_label": "alertmanager.yml",
        }
    if kind == IntegrationKind.PAGERDUTY:
        snippet = (
            "receivers:\n"
            f"  - name: {receiver}\n"
            "    pagerduty_configs:\n"
            f"      - url: {url}\n"
            f"        routing_key: {key}\n"
            "        send_resolved: true\n"
        )
        return {
            "title": "Connect a PagerDuty-compatible sender",
            "where": "Set the Events API v2 URL to this one and use the key as the routing key "
            "(integration key). From Alertmanager, use pagerduty_configs:",
            "snippet": snippet,
            "snippet_label": "alertmanager.yml",
        }
    if kind == IntegrationKind.HEARTBEAT:
        snippet = (
            f"# ping at least every {every(integration.heartbeat_interval_seconds)}, "
            "e.g. at the end of the job:\n"
            f"curl -fsS --retry 3 -X POST '{url}'\n"
        )
        return {
            "title": "Ping the heartbeat",
            "where": "Have the job call this URL (GET or POST) each time it runs.",
            "snippet": snippet,
            "snippet_label": "shell",
        }
    snippet = (
        f"curl -X POST '{url}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"title": "Disk almost full on db-1", "dedup_key": "disk-full:db-1", '
        '"severity": "warning"}\'\n'
        "# and when it is fixed:\n"
        f"curl -X POST '{url}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"dedup_key": "disk-full:db-1", "status": "resolved"}\'\n'
    )
    return {
        "title": "Send alerts as JSON",
        "where": "POST JSON to this URL: title, dedup_key, and optionally status "
        "(firing or resolved), severity, details, links.",
        "snippet": snippet,
        "snippet_label": "shell",
    }


def _may_configure(user: User, service_: Service) -> bool:
    try:
        service.require_service_owner(user, service_, "configure alerting")
    except Forbidden:
        return False
    return True


def _new_key(
    request: Request, session: Any, service_: Service
) -> tuple[Integration, str, str] | None:
    """The key just created or rotated, if this request carries it and it still opens the door."""
    raw = request.cookies.get(NEW_KEY_COOKIE, "")
    number, _, key = raw.partition(".")
    integration = service.integration_by_key(session, key) if key else None
    if integration is None or str(integration.id) != number:
        return None
    if integration.service_id != service_.id:
        return None
    base = request.app.state.settings.base_url
    return integration, key, service.integration_url(base, integration, key)


def _rule_rows(rules: list[Any]) -> list[dict[str, str]]:
    rows = [
        {
            "severity": r.severity or "",
            "action": r.action,
            "incident_severity": r.incident_severity or "",
        }
        for r in rules
    ]
    extra = EXTRA_RULE_ROWS_AFTER_SAVED if rows else EXTRA_RULE_ROWS
    blanks = max(0, min(extra, MAX_RULES - len(rows)))
    return rows + [{"severity": "", "action": "", "incident_severity": ""}] * blanks


def _outcomes(rules: list[Any]) -> list[dict[str, str]]:
    """What each alert severity does under these rules (or the default), in words."""
    parsed = [
        routing.Rule(
            AlertSeverity(r.severity) if r.severity else None,
            RuleAction(r.action),
            Severity(r.incident_severity) if r.incident_severity else None,
        )
        for r in rules
    ]
    rows = []
    for severity in AlertSeverity:
        decision = routing.decide(parsed, severity, in_maintenance=False)
        does = ACTION_HELP[decision.action.value]
        if decision.action is RuleAction.INCIDENT:
            does = f"Declare a {decision.incident_severity} incident and page"
        rows.append({"severity": severity.value, "action": decision.action.value, "does": does})
    return rows


@router.get("/services/{service_id}/alerting", response_class=HTMLResponse)
def alerting_page(
    service_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    return _render_alerting(request, session, user, service_id)


def _render_alerting(
    request: Request,
    session: Session,
    user: User,
    service_id: int,
    *,
    maintenance_form: dict[str, str] | None = None,
    refused: TocsinError | None = None,
) -> Response:
    """The alerting page; a refused maintenance comes back with what was typed and why."""
    service_ = catalogue.get_service(session, service_id)
    fresh = _new_key(request, session, service_)
    rules = service.rules_of(session, service_id)
    base = request.app.state.settings.base_url
    moment = now()
    context = {
        "service": service_,
        "can_configure": _may_configure(user, service_),
        "integrations": service.list_integrations(session, service_id),
        "new_key": (
            {
                "integration": fresh[0],
                "key": fresh[1],
                "url": fresh[2],
                "guide": setup_guide(fresh[0], service_, fresh[2], fresh[1]),
            }
            if fresh
            else None
        ),
        "enqueue_url": base.rstrip("/") + "/v2/enqueue",
        "kind_help": KIND_HELP,
        "every": every,
        "rules": rules,
        "rule_rows": _rule_rows(rules),
        "outcomes": _outcomes(rules),
        "alert_severities": list(AlertSeverity),
        "actions": ACTION_HELP,
        "severities": list(Severity),
        "default_incident_severity": routing.INCIDENT_SEVERITY_FOR,
        "policy": oncall.policy_of_service(session, service_id),
        "policies": oncall.list_policies(session),
        "windows": service.list_maintenance(session, service_id),
        "maintenance_form": maintenance_form
        or {
            "starts_at": local_input_value(request, moment),
            "ends_at": local_input_value(request, moment + timedelta(hours=1)),
            "reason": "",
        },
    }
    if refused is not None:
        context["flash"] = ("error", refused.message)
    status = refused.status_code if refused is not None else 200
    response = render(request, "alerts/alerting.html", context, status_code=status)
    if NEW_KEY_COOKIE in request.cookies:
        response.delete_cookie(NEW_KEY_COOKIE, path=_alerting_page(service_id))
    return response


def _on_service(service_id: int, action: Callable[[], str]) -> Response:
    """Runs one set-up action and returns to the alerting page with what happened."""
    return act_and_return(_alerting_page(service_id), action)


def _showing_key(
    request: Request, service_id: int, integration: Integration, key: str, message: str
) -> Response:
    response = redirect(_alerting_page(service_id), f"ok|{message}")
    response.set_cookie(
        NEW_KEY_COOKIE,
        f"{integration.id}.{key}",
        max_age=NEW_KEY_SECONDS,
        path=_alerting_page(service_id),
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    return response


def _minutes(form: Any, name: str, label: str, lowest: int, highest: int) -> int | None:
    """Whole minutes from a number field, as seconds; blank is None.

    The form speaks minutes and the schema seconds, so the bounds are checked here in the
    form's own words (the schema checks them again).
    """
    value = text(form, name).strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not lowest <= int(value) <= highest:
        raise InvalidInput(f"{label}: enter whole minutes from {lowest} to {highest}.", field=name)
    return int(value) * 60


def _integration_of(session: Any, service_id: int, integration_id: int) -> Integration:
    integration = service.get_integration(session, integration_id)
    if integration.service_id != service_id:
        raise NotFound(f"No integration {integration_id} on this service.", field="integration_id")
    return integration


@router.post("/services/{service_id}/alerting/integrations")
def create_integration(
    service_id: IdPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    try:
        kind = text(form, "kind")
        heartbeat = kind == IntegrationKind.HEARTBEAT.value
        values: dict[str, Any] = {
            "service_id": service_id,
            "name": text(form, "name"),
            "kind": kind,
            "rate_limit_per_minute": text(form, "rate_limit_per_minute").strip() or 6000,
        }
        if heartbeat:
            interval = _minutes(form, "heartbeat_interval", "Heartbeat interval", 1, 7 * 24 * 60)
            if interval is None:
                raise InvalidInput(
                    "A heartbeat needs an interval: how often the job pings.",
                    field="heartbeat_interval",
                )
            values["heartbeat_interval_seconds"] = interval
            values["heartbeat_grace_seconds"] = _minutes(
                form, "heartbeat_grace", "Grace", 0, 24 * 60
            )
        data = parse(IntegrationCreate, values)
        integration, key = service.create_integration(session, user, data)
    except TocsinError as refused:
        return redirect(_alerting_page(service_id), f"error|{refused.message}")
    message = f"{integration.name} is added. Copy its key now: it is shown only this once."
    return _showing_key(request, service_id, integration, key, message)


@router.post("/services/{service_id}/alerting/integrations/{integration_id}/rotate")
def rotate_key(
    service_id: IdPath,
    integration_id: IdPath,
    request: Request,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    try:
        _integration_of(session, service_id, integration_id)
        integration, key = service.rotate_integration_key(session, user, integration_id)
    except TocsinError as refused:
        return redirect(_alerting_page(service_id), f"error|{refused.message}")
    request.app.state.integrations.forget()
    message = (
        f"The key of {integration.name} is rotated; the old one no longer works. "
        "Copy the new key now: it is shown only this once."
    )
    return _showing_key(request, service_id, integration, key, message)


@router.post("/services/{service_id}/alerting/integrations/{integration_id}")
def update_integration(
    service_id: IdPath,
    integration_id: IdPath,
    request: Request,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    def act() -> str:
        integration = _integration_of(session, service_id, integration_id)
        values: dict[str, Any] = {"name": text(form, "name")}
        if integration.kind == IntegrationKind.HEARTBEAT.value:
            interval = _minutes(form, "heartbeat_interval", "Heartbeat interval", 1, 7 * 24 * 60)
            if interval is None:
                raise InvalidInput(
                    "A heartbeat needs an interval: how often the job pings.",
                    field="heartbeat_interval",
                )
            values["heartbeat_interval_seconds"] = interval
            values["heartbeat_grace_seconds"] = (
                _minutes(form, "heartbeat_grace", "Grace", 0, 24 * 60) or 0
            )
        else:
            values["rate_limit_per_minute"] = text(form, "rate_limit_per_minute").strip() or None
        changed = service.update_integration(
            session, user, integration_id, parse(IntegrationUpdate, values)
        )
        request.app.state.integrations.forget()  # a new rate limit applies at once
        return f"{changed.name} is saved."

    return _on_service(service_id, act)


@router.post("/services/{service_id}/alerting/integrations/{integration_id}/test")
def send_test_alert(
    service_id: IdPath,
    integration_id: IdPath,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    try:
        _integration_of(session, service_id, integration_id)
        severity = parse(TestAlertIn, {"severity": text(form, "severity") or "warning"}).severity
        alert = service.send_test_alert(session, user, integration_id, severity)
    except TocsinError as refused:
        return redirect(_alerting_page(service_id), f"error|{refused.message}")
    if oncall.policy_of_service(session, alert.service_id) is None:
        message = (
            f"warn|Test alert {alert.key} sent. Nobody will be paged: {alert.service.name} "
            "has no escalation policy. Choose one on its Alerting page."
        )
        return redirect(_alert_page(alert.id), message)
    message = (
        f"Test alert {alert.key} sent: {alert.service.name} routes it like a real one. "
        "Resolve it once the page has reached you."
    )
    return redirect(_alert_page(alert.id), f"ok|{message}")


@router.post("/services/{service_id}/alerting/integrations/{integration_id}/delete")
def delete_integration(
    service_id: IdPath,
    integration_id: IdPath,
    request: Request,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    def act() -> str:
        name = _integration_of(session, service_id, integration_id).name
        service.delete_integration(session, user, integration_id)
        request.app.state.integrations.forget()
        return f"{name} is removed; its key no longer works."

    return _on_service(service_id, act)


def _rules_from(form: Any) -> list[dict[str, Any]]:
    """The editor's rows, in order; a row without an action is left out."""
    severities = form.getlist("severity")
    actions = form.getlist("action")
    incident_severities = form.getlist("incident_severity")
    rules = []
    for index, action in enumerate(actions):
        if not isinstance(action, str) or not action:
            continue
        severity = severities[index] if index < len(severities) else ""
        incident_severity = incident_severities[index] if index < len(incident_severities) else ""
        rules.append(
            {
                "severity": severity or None,
                "action": action,
                "incident_severity": (incident_severity or None)
                if action == RuleAction.INCIDENT.value
                else None,
            }
        )
    return rules


@router.post("/services/{service_id}/alerting/rules")
def save_rules(
    service_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        chosen = parse(RulesReplace, {"rules": _rules_from(form)})
        saved = service.replace_rules(session, user, service_id, chosen.rules)
        if not saved:
            return "Rules cleared: the default applies (page for everything except info)."
        return f"Rules saved ({len(saved)})."

    return _on_service(service_id, act)


@router.post("/services/{service_id}/alerting/maintenance")
def plan_maintenance(
    service_id: IdPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        starts = local_datetime(form, "starts_at", user.time_zone)
        ends = local_datetime(form, "ends_at", user.time_zone)
        if not isinstance(starts, datetime) or not isinstance(ends, datetime):
            raise InvalidInput("Give a start and an end for the maintenance.", field="starts_at")
        if ends <= starts:
            raise InvalidInput("The maintenance must end after it starts.", field="ends_at")
        values = {
            "service_id": service_id,
            "starts_at": starts,
            "ends_at": ends,
            "reason": text(form, "reason"),
        }
        service.create_maintenance(session, user, parse(MaintenanceCreate, values))
        return "Maintenance planned: alerts are kept but page nobody during it."

    try:
        message = act()
    except TocsinError as refused:
        session.rollback()
        typed = {name: text(form, name) for name in ("starts_at", "ends_at", "reason")}
        return _render_alerting(
            request, session, user, service_id, maintenance_form=typed, refused=refused
        )
    return redirect(_alerting_page(service_id), f"ok|{message}")


@router.post("/services/{service_id}/alerting/maintenance/{window_id}/end")
def end_maintenance(
    service_id: IdPath, window_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        windows = service.list_maintenance(session, service_id)
        window = next((w for w in windows if w.id == window_id), None)
        if window is None:
            raise NotFound("This maintenance is already over or was cancelled.", field="window_id")
        planned = window.starts_at > now()
        service.end_maintenance(session, user, window_id)
        return "Planned maintenance cancelled." if planned else "Maintenance ended."

    return _on_service(service_id, act)


def incident_alerts_section(
    request: Request, session: Session, user: User, incident: Any
) -> dict[str, Any]:
    """The incident page lists its alerts: the way back to their payload and graph links."""
    linked = service.alerts_of_incident(session, incident.id, LINKED_ALERTS_SHOWN + 1)
    shown = linked[:LINKED_ALERTS_SHOWN]
    paged = paging.paged_subjects(session, service.SUBJECT, (a.id for a in shown))
    return {
        "linked_alerts": shown,
        "more_linked_alerts": len(linked) > LINKED_ALERTS_SHOWN,
        "linked_alerts_open": service.open_alerts_of_incident(session, incident.id),
        # The incident's own pages are not the only ones: its alerts may have paged already.
        "paged_through_alerts": [a for a in shown if a.id in paged],
    }


add_section("incident", incident_alerts_section)
