"""From alert to incident: per-service rules, maintenance windows, and people linking alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerting import make_integration, run_engine
from tests.conftest import assert_error
from tocsin.alerts import service as alerts_service
from tocsin.engine.alert_router import AlertRouter


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


def send(client, key, dedup_key="db-1", severity="critical", action="trigger"):
    body = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {
            "summary": f"{dedup_key} is down",
            "source": "probe",
            "severity": severity,
        }
    assert client.post("/v2/enqueue", json=body).status_code == 202


def only_alert(api):
    [alert] = api.get("/api/v1/alerts").json()["items"]
    return alert


def test_without_rules_alerts_page_except_informational_ones(client, ada, db):
    integration = make_integration(ada, "pagerduty")
    send(client, integration["key"], "a", "error")
    send(client, integration["key"], "b", "info")
    assert run_engine(db)["alert_router"] == 2
    actions = {a["dedup_key"]: a["action"] for a in ada.get("/api/v1/alerts").json()["items"]}
    assert actions == {"a": "page", "b": "log"}
    assert run_engine(db)["alert_router"] == 0  # each alert is routed once


def test_an_incident_rule_declares_an_incident_and_links_the_alert(
    client, ada, rita, db, responder
):
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    rules = [
        {"severity": "critical", "action": "incident", "incident_severity": "SEV1"},
        {"severity": None, "action": "log"},
    ]
    assert (
        ada.put(f"/api/v1/services/{service_id}/alert-rules", json={"rules": rules}).status_code
        == 200
    )

    send(client, integration["key"], "checkout", "critical")
    send(client, integration["key"], "cpu", "warning")
    run_engine(db)
    incidents = ada.get("/api/v1/incidents").json()["items"]
    assert len(incidents) == 1
    incident = incidents[0]
    assert (incident["severity"], incident["service"]["id"]) == ("SEV1", service_id)
    assert incident["incident_manager"] is None and incident["reporter"] is None
    timeline = [e["kind"] for e in ada.get(f"/api/v1/incidents/{incident['key']}/timeline").json()]
    assert timeline == ["page_exhausted", "alert_linked", "declared"]  # nobody to page
    warning = next(a for a in ada.get("/api/v1/alerts").json()["items"] if a["dedup_key"] == "cpu")
    assert warning["action"] == "log" and warning["incident"] is None

    # A responder takes command of the rule-declared incident; a second one cannot.
    taken = rita.post(f"/api/v1/incidents/{incident['key']}/take-command").json()
    assert taken["incident_manager"]["id"] == responder.id
    assert_error(ada.post(f"/api/v1/incidents/{incident['key']}/take-command"), 409)


def test_maintenance_keeps_alerts_but_suppresses_paging(client, ada, db, clock):
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    window = {
        "service_id": service_id,
        "starts_at": clock.current.isoformat(),
        "ends_at": (clock.current + timedelta(hours=1)).isoformat(),
        "reason": "DB upgrade",
    }
    assert ada.post("/api/v1/maintenance-windows", json=window).status_code == 201
    send(client, integration["key"], "during")
    run_engine(db)
    alert = only_alert(ada)
    assert alert["suppressed"] is True and alert["action"] == "log"
    assert "maintenance" in ada.get(f"/api/v1/alerts/{alert['id']}/timeline").json()[0]["message"]

    clock.advance(hours=1)
    send(client, integration["key"], "after")
    run_engine(db)
    after = next(a for a in ada.get("/api/v1/alerts").json()["items"] if a["dedup_key"] == "after")
    assert after["suppressed"] is False and after["action"] == "page"


def test_a_maintenance_window_must_end_after_it_starts(ada, clock):
    service_id = ada.post("/api/v1/services", json={"name": "db"}).json()["id"]
    backwards = {
        "service_id": service_id,
        "starts_at": clock.current.isoformat(),
        "ends_at": (clock.current - timedelta(minutes=1)).isoformat(),
    }
    assert_error(ada.post("/api/v1/maintenance-windows", json=backwards), 422)


def test_one_click_from_alert_to_incident(client, ada, rita, db, responder):
    integration = make_integration(ada, "pagerduty")
    send(client, integration["key"], "checkout", "error")
    alert = only_alert(ada)
    incident = rita.post(f"/api/v1/alerts/{alert['id']}/incident", json={}).json()
    assert incident["summary"] == "checkout is down"
    assert incident["severity"] == "SEV2"  # error -> SEV2 unless the responder says otherwise
    assert incident["incident_manager"]["id"] == responder.id
    assert only_alert(ada)["incident"]["key"] == incident["key"]
    assert_error(rita.post(f"/api/v1/alerts/{alert['id']}/incident", json={}), 409)


def test_declaring_from_a_paged_alert_does_not_page_the_on_call_again(client, ada, rita, db):
    """Journey 1: the on-call acknowledges the alert's page, then declares an incident from
    it; the service's on-call was reached already. An alert that paged nobody (info is
    only logged) pages them when it becomes an incident."""
    integration = make_integration(ada, "pagerduty")
    send(client, integration["key"], "checkout", "error")
    send(client, integration["key"], "disk", "info")
    run_engine(db)
    alerts = {a["dedup_key"]: a for a in ada.get("/api/v1/alerts").json()["items"]}
    assert rita.post(f"/api/v1/alerts/{alerts['checkout']['id']}/acknowledge").status_code == 200

    paged = rita.post(f"/api/v1/alerts/{alerts['checkout']['id']}/incident", json={}).json()
    assert rita.get(f"/api/v1/incidents/{paged['key']}/pages").json() == []
    # Its page does not claim nobody was paged: the alert's page reached the on-call.
    shown = rita.get(f"/incidents/{paged['key']}").text
    checkout_key = f"ALR-{alerts['checkout']['id']}"
    assert f'Paged through its alert: <a href="/alerts/{alerts["checkout"]["id"]}">' in shown
    assert checkout_key in shown and "Nobody has been paged" not in shown
    logged = rita.post(f"/api/v1/alerts/{alerts['disk']['id']}/incident", json={}).json()
    [page] = rita.get(f"/api/v1/incidents/{logged['key']}/pages").json()
    assert page["status"] == "exhausted"  # at once: payments has no escalation policy
    said = [e["message"] for e in rita.get(f"/api/v1/incidents/{logged['key']}/timeline").json()]
    assert "Nobody was paged: payments has no escalation policy" in said


def test_attaching_alerts_and_telling_the_incident_when_all_are_resolved(client, ada, rita, db):
    integration = make_integration(ada, "pagerduty")
    key = integration["key"]
    incident = rita.post(
        "/api/v1/incidents", json={"summary": "Checkout errors", "severity": "SEV2"}
    ).json()
    for name in ("web-1", "web-2"):
        send(client, key, name)
    for alert in ada.get("/api/v1/alerts").json()["items"]:
        attached = rita.post(
            f"/api/v1/alerts/{alert['id']}/attach", json={"incident_key": incident["key"]}
        )
        assert attached.status_code == 200
    send(client, key, "web-1", action="resolve")
    kinds = [e["kind"] for e in rita.get(f"/api/v1/incidents/{incident['key']}/timeline").json()]
    assert kinds[0] == "alert_resolved" and "all_alerts_resolved" not in kinds
    send(client, key, "web-2", action="resolve")
    events = rita.get(f"/api/v1/incidents/{incident['key']}/timeline").json()
    assert events[0]["kind"] == "all_alerts_resolved" and events[0]["starred"] is True
    # The incident itself is not resolved automatically: a person decides.
    assert rita.get(f"/api/v1/incidents/{incident['key']}").json()["status"] == "open"


def test_responders_acknowledge_and_resolve_alerts_viewers_cannot(
    client, ada, rita, api_as, viewer
):
    send(client, make_integration(ada, "pagerduty")["key"])
    alert_id = only_alert(ada)["id"]
    assert_error(api_as(viewer).post(f"/api/v1/alerts/{alert_id}/acknowledge"), 403)
    acked = rita.post(f"/api/v1/alerts/{alert_id}/acknowledge").json()
    assert (
        acked["status"] == "acknowledged" and acked["acknowledged_by"]["name"] == "Rita Responder"
    )
    assert rita.post(f"/api/v1/alerts/{alert_id}/resolve").json()["status"] == "resolved"
    assert_error(rita.post(f"/api/v1/alerts/{alert_id}/acknowledge"), 409)


def test_alert_list_filters(client, ada):
    payments = make_integration(ada, "pagerduty", "payments")["key"]
    search = make_integration(ada, "pagerduty", "search")
    send(client, payments, "p1", "critical")
    send(client, payments, "p2", "warning")
    send(client, search["key"], "s1", "critical")
    send(client, search["key"], "s1", action="resolve")

    def keys(**params):
        return sorted(
            a["dedup_key"] for a in ada.get("/api/v1/alerts", params=params).json()["items"]
        )

    assert keys(severity="critical") == ["p1", "s1"]
    assert keys(status="resolved") == ["s1"]
    assert keys(service_id=search["service"]["id"]) == ["s1"]
    assert keys(q="p2") == ["p2"]


def test_only_owners_configure_a_service(ada, rita, api_as, make_user, admin):
    team = ada.post("/api/v1/teams", json={"name": "Payments team"}).json()
    service = ada.post("/api/v1/services", json={"name": "payments", "team_id": team["id"]}).json()
    body = {"service_id": service["id"], "name": "prom", "kind": "alertmanager"}
    assert_error(rita.post("/api/v1/integrations", json=body), 403)
    me = rita.get("/api/v1/me").json()
    ada.post(f"/api/v1/teams/{team['id']}/members", json={"user_id": me["id"]})
    assert rita.post("/api/v1/integrations", json=body).status_code == 201
    audit = [e["action"] for e in ada.get("/api/v1/audit").json()]
    assert "integration.created" in audit


def test_an_alert_never_reveals_a_restricted_incident_it_is_linked_to(
    client, ada, rita, api_as, make_user
):
    send(client, make_integration(ada, "pagerduty")["key"], "s3-bucket")
    alert_id = only_alert(ada)["id"]
    secret = rita.post(
        "/api/v1/incidents",
        json={"summary": "Customer data exposed via S3", "severity": "SEV1", "restricted": True},
    ).json()
    attached = rita.post(f"/api/v1/alerts/{alert_id}/attach", json={"incident_key": secret["key"]})
    assert attached.json()["incident"]["summary"] == "Customer data exposed via S3"  # a participant
    outsider = api_as(make_user("responder", name="Otto Outsider"))
    for seen in (
        outsider.get(f"/api/v1/alerts/{alert_id}").json(),
        outsider.get("/api/v1/alerts").json()["items"][0],
    ):
        assert seen["incident"]["summary"] == "linked to an incident you cannot see"
        assert seen["incident"]["key"] is None and seen["incident"]["id"] is None
        assert "S3" not in str(seen["incident"])
    assert (
        ada.get(f"/api/v1/alerts/{alert_id}").json()["incident"]["summary"].startswith("Customer")
    )


def test_an_incident_from_an_alert_counts_its_impact_from_the_alert(client, ada, rita, db, clock):
    integration = make_integration(ada, "pagerduty")
    send(client, integration["key"], "checkout", "error")
    clock.advance(minutes=7)  # the on-call looks, then declares
    alert = only_alert(ada)
    incident = rita.post(f"/api/v1/alerts/{alert['id']}/incident", json={}).json()
    assert incident["detected_at"] == incident["impact_started_at"] == "2026-03-02T09:00:00Z"
    assert incident["declared_at"] == "2026-03-02T09:07:00Z"


def test_an_alert_whose_routing_fails_is_retried_while_the_others_are_routed(
    client, ada, db, clock, monkeypatch
):
    integration = make_integration(ada, "pagerduty")
    for dedup_key in ("broken", "fine"):
        send(client, integration["key"], dedup_key, "error")
    real = alerts_service.route_alert

    def failing(session, alert, at):
        if alert.dedup_key == "broken":
            raise RuntimeError("cannot route this one")
        return real(session, alert, at)

    def actions() -> dict[str, str | None]:
        return {a["dedup_key"]: a["action"] for a in ada.get("/api/v1/alerts").json()["items"]}

    monkeypatch.setattr(alerts_service, "route_alert", failing)
    router = AlertRouter()
    router.run_due(db, clock.current)
    assert actions() == {"broken": None, "fine": "page"}
    monkeypatch.setattr(alerts_service, "route_alert", real)
    router.run_due(db, clock.advance(seconds=30))  # set aside for a minute
    assert actions()["broken"] is None
    router.run_due(db, clock.advance(seconds=31))
    assert actions() == {"broken": "page", "fine": "page"}


def plan_maintenance(ada, service_id, start, hours=1):
    window = {
        "service_id": service_id,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "reason": "DB upgrade",
    }
    response = ada.post("/api/v1/maintenance-windows", json=window)
    assert response.status_code == 201, response.text
    return response.json()


def alert_story(ada, alert_id):
    """The alert's timeline, oldest first."""
    return [e["message"] for e in ada.get(f"/api/v1/alerts/{alert_id}/timeline").json()][::-1]


def test_an_alert_still_firing_after_maintenance_pages_once_the_grace_is_over(
    client, ada, db, clock
):
    integration = make_integration(ada, "pagerduty")
    plan_maintenance(ada, integration["service"]["id"], clock.current)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    assert only_alert(ada)["suppressed"] is True

    # The monitoring gets a few minutes after the end to send the resolves the work brings.
    clock.advance(hours=1, minutes=4)
    run_engine(db)
    assert only_alert(ada)["suppressed"] is True
    clock.advance(minutes=1)
    run_engine(db)
    alert = only_alert(ada)
    assert (alert["suppressed"], alert["action"]) == (False, "page")
    story = alert_story(ada, alert["id"])
    assert story[1:4] == [
        "Suppressed: payments is in maintenance; nobody is paged",
        "Maintenance on payments is over and this alert still fires: "
        "the service's rules decide again",
        "Meant to page the on-call of payments, which has no policy",
    ]
    # Handed back once: later passes leave it be.
    assert run_engine(db)["alert_router"] == 0
    assert len(alert_story(ada, alert["id"])) == len(story)


def test_a_repeat_after_the_maintenance_routes_the_alert_at_once(client, ada, db, clock):
    integration = make_integration(ada, "pagerduty")
    plan_maintenance(ada, integration["service"]["id"], clock.current)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    clock.advance(hours=1, minutes=1)
    send(client, integration["key"], "db-primary")  # Alertmanager's repeat: still firing
    run_engine(db)
    alert = only_alert(ada)
    assert (alert["count"], alert["suppressed"], alert["action"]) == (2, False, "page")


def test_alerts_that_ended_or_were_handled_during_maintenance_stay_quiet(client, ada, db, clock):
    integration = make_integration(ada, "pagerduty")
    plan_maintenance(ada, integration["service"]["id"], clock.current)
    send(client, integration["key"], "resolved-during")
    send(client, integration["key"], "acked-during")
    run_engine(db)
    send(client, integration["key"], "resolved-during", action="resolve")
    send(client, integration["key"], "acked-during", action="acknowledge")
    clock.advance(hours=2)
    run_engine(db)
    alerts = ada.get("/api/v1/alerts").json()["items"]
    assert {(a["status"], a["suppressed"], a["action"]) for a in alerts} == {
        ("resolved", True, "log"),
        ("acknowledged", True, "log"),
    }


def test_a_longer_maintenance_still_on_keeps_the_alert_quiet(client, ada, db, clock):
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    plan_maintenance(ada, service_id, clock.current, hours=1)
    plan_maintenance(ada, service_id, clock.current, hours=3)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    clock.advance(hours=2)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    assert only_alert(ada)["suppressed"] is True
    clock.advance(hours=1, minutes=5)
    run_engine(db)
    assert only_alert(ada)["suppressed"] is False


def test_ending_maintenance_early_lets_an_incident_rule_declare(client, ada, db, clock):
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    rules = [{"severity": None, "action": "incident", "incident_severity": "SEV2"}]
    ada.put(f"/api/v1/services/{service_id}/alert-rules", json={"rules": rules})
    window = plan_maintenance(ada, service_id, clock.current, hours=4)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    assert ada.get("/api/v1/incidents").json()["items"] == []
    clock.advance(minutes=30)
    assert ada.delete(f"/api/v1/maintenance-windows/{window['id']}").status_code == 204
    clock.advance(minutes=5)
    run_engine(db)
    [incident] = ada.get("/api/v1/incidents").json()["items"]
    assert (incident["severity"], incident["summary"]) == ("SEV2", "db-primary is down")
    assert only_alert(ada)["incident"]["key"] == incident["key"]


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        ("2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z", "ends_at"),  # already over
        ("2026-03-02T09:00:00Z", "9999-12-31T23:59:00Z", "ends_at"),  # "forever"
        ("1999-12-31T23:00:00Z", "2026-03-02T10:00:00Z", "starts_at"),
    ],
)
def test_maintenance_must_end_in_the_future_and_within_the_calendar(
    ada, clock, starts, ends, field
):
    service_id = ada.post("/api/v1/services", json={"name": "db"}).json()["id"]
    window = {"service_id": service_id, "starts_at": starts, "ends_at": ends}
    assert_error(ada.post("/api/v1/maintenance-windows", json=window), 422, field=field)
    assert ada.get("/api/v1/maintenance-windows").json() == []


def test_a_severity_no_rule_names_keeps_the_default(client, ada, db):
    """Rules written for critical alerts must not silently stop errors from paging."""
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    rules = [{"severity": "critical", "action": "incident", "incident_severity": "SEV1"}]
    ada.put(f"/api/v1/services/{service_id}/alert-rules", json={"rules": rules})
    send(client, integration["key"], "a", "critical")
    send(client, integration["key"], "b", "error")
    send(client, integration["key"], "c", "info")
    run_engine(db)
    actions = {a["dedup_key"]: a["action"] for a in ada.get("/api/v1/alerts").json()["items"]}
    assert actions == {"a": "incident", "b": "page", "c": "log"}


@pytest.mark.parametrize("rule", ["page", "incident"])
def test_an_alert_made_part_of_an_incident_during_maintenance_is_not_routed_again(
    client, ada, rita, db, clock, rule
):
    """Its people have it: no second page, no second incident, no routing that fails."""
    integration = make_integration(ada, "pagerduty")
    service_id = integration["service"]["id"]
    ada.put(
        f"/api/v1/services/{service_id}/alert-rules",
        json={"rules": [{"severity": None, "action": rule}]},
    )
    plan_maintenance(ada, service_id, clock.current)
    send(client, integration["key"], "db-primary")
    run_engine(db)
    alert = only_alert(ada)
    declared = rita.post(f"/api/v1/alerts/{alert['id']}/incident", json={})
    assert declared.status_code == 201, declared.text
    pages_before = len(rita.get(f"/api/v1/incidents/{declared.json()['key']}/pages").json())

    clock.advance(hours=1, minutes=5)
    run_engine(db)
    assert run_engine(db)["alert_router"] == 0  # handed back once, routed by nobody
    alert = only_alert(ada)
    assert (alert["suppressed"], alert["action"]) == (False, "log")
    assert alert_story(ada, alert["id"])[-1] == (
        "Maintenance on payments is over and this alert still fires: it is handled in "
        f"{declared.json()['key']}, so nobody is paged again"
    )
    assert len(ada.get("/api/v1/incidents").json()["items"]) == 1
    after = rita.get(f"/api/v1/incidents/{declared.json()['key']}/pages").json()
    assert len(after) == pages_before


def test_an_alert_left_firing_long_after_an_old_maintenance_is_not_woken(client, ada, db, clock):
    """A sender that never resolves must not page for a window that ended days ago (an
    upgrade that brings this behaviour finds such alerts)."""
    integration = make_integration(ada, "pagerduty")
    plan_maintenance(ada, integration["service"]["id"], clock.current)
    send(client, integration["key"], "forgotten")
    run_engine(db)
    clock.advance(days=2)  # the engine was not running since, as before an upgrade
    run_engine(db)
    assert only_alert(ada)["suppressed"] is True
