"""Alert details have a bound: what a sender sends beyond 64 KiB of JSON is cut with a
marker (the page still goes out), and lists never carry or even load details."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from tests.alerting import make_integration
from tests.conftest import browser_login
from tocsin.alerts import service
from tocsin.alerts.events import DETAILS_CUT, MAX_DETAILS_BYTES, json_size
from tocsin.alerts.schemas import AlertFilters


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def only_alert(ada) -> dict:
    [summary] = ada.get("/api/v1/alerts").json()["items"]
    return ada.get(f"/api/v1/alerts/{summary['id']}").json()


def test_a_log_dump_in_webhook_details_is_cut_to_the_bound_and_says_so(client, ada):
    key = make_integration(ada, "webhook")["key"]
    log = "".join(f'line {n}: "timeout"\n' for n in range(20_000))  # ~400 KB, escapes inside
    body = {
        "title": "Checkout errors",
        "dedup_key": "checkout",
        "details": {"region": "eu-west-1", "log": log, "after": "kept too"},
    }
    assert client.post(f"/integrations/webhook/{key}", json=body).status_code == 202
    details = only_alert(ada)["details"]
    assert json_size(details) <= MAX_DETAILS_BYTES
    assert details["region"] == "eu-west-1" and details["after"] == "kept too"
    assert details["log"].startswith('line 0: "timeout"\nline 1:')
    assert details["log"].endswith("… (cut)")
    marker = details[DETAILS_CUT]
    assert marker["shortened"] == "log" and marker["bytes_sent"] > 400_000
    assert marker["bytes_kept"] == MAX_DETAILS_BYTES


def test_pagerduty_custom_details_over_the_bound_keep_what_fits_and_name_the_rest(client, ada):
    key = make_integration(ada, "pagerduty")["key"]
    custom = {f"metric_{n:03}": [n] * 1000 for n in range(40)}  # ~4 KB each, 160 KB
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk",
        "payload": {
            "summary": "Disk full",
            "source": "db-1",
            "severity": "critical",
            "custom_details": custom,
        },
    }
    answer = client.post("/v2/enqueue", json=event)
    assert answer.status_code == 202 and answer.json()["status"] == "success"
    details = only_alert(ada)["details"]
    assert json_size(details) <= MAX_DETAILS_BYTES
    assert details["metric_000"] == [0] * 1000
    assert "metric_039" not in details
    assert (
        "metric_039" in details[DETAILS_CUT]["left_out"]
        or "more" in (details[DETAILS_CUT]["left_out"])
    )


def test_alertmanager_annotations_over_the_bound_are_cut_and_the_other_alerts_kept(client, ada):
    key = make_integration(ada, "alertmanager")["key"]
    alerts = [
        {
            "status": "firing",
            "fingerprint": f"fp{n}",
            "labels": {"alertname": f"Alert{n}"},
            "annotations": {"summary": f"Alert {n}", "description": "x" * 100_000},
        }
        for n in range(2)
    ]
    answer = client.post(
        f"/integrations/alertmanager/{key}", json={"version": "4", "alerts": alerts}
    )
    assert answer.status_code == 202, answer.text
    items = ada.get("/api/v1/alerts").json()["items"]
    assert len(items) == 2
    for item in items:
        details = ada.get(f"/api/v1/alerts/{item['id']}").json()["details"]
        assert json_size(details) <= MAX_DETAILS_BYTES
        assert DETAILS_CUT in details


def test_details_within_the_bound_are_kept_as_sent(client, ada):
    key = make_integration(ada, "webhook")["key"]
    details = {"note": "é" * 20_000, "numbers": list(range(3000))}  # 60 KB of JSON
    assert json_size(details) < MAX_DETAILS_BYTES
    body = {"title": "Near the bound", "dedup_key": "near", "details": details}
    assert client.post(f"/integrations/webhook/{key}", json=body).status_code == 202
    assert only_alert(ada)["details"] == details


def test_lists_leave_details_out_and_the_alert_itself_carries_them(client, ada, admin, db):
    key = make_integration(ada, "webhook")["key"]
    marker = "details-marker-7f3a"
    body = {"title": "Checkout errors", "dedup_key": "c", "details": {"trace": marker}}
    assert client.post(f"/integrations/webhook/{key}", json=body).status_code == 202

    listed = ada.get("/api/v1/alerts?limit=50").json()["items"]
    assert len(listed) == 1 and "details" not in listed[0]
    assert listed[0]["title"] == "Checkout errors"
    assert marker not in json.dumps(listed)
    assert ada.get(f"/api/v1/alerts/{listed[0]['id']}").json()["details"] == {"trace": marker}

    browser_login(client, admin)
    assert "Checkout errors" in client.get("/alerts").text
    assert marker not in client.get("/alerts").text
    assert marker in client.get(f"/alerts/{listed[0]['id']}").text


def test_the_list_query_does_not_load_the_details_column(client, ada, db):
    key = make_integration(ada, "webhook")["key"]
    body = {"title": "Checkout errors", "dedup_key": "c", "details": {"trace": "t"}}
    assert client.post(f"/integrations/webhook/{key}", json=body).status_code == 202
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.begin() as session:
            [alert], _ = service.list_alerts(session, AlertFilters())
            assert alert.title == "Checkout errors"
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    [query] = [s for s in statements if "FROM alerts" in s]
    assert "alerts.title" in query and "alerts.details" not in query
