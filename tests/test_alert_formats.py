"""Sender formats turned into alert events, checked against bodies captured from real senders."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts import alertmanager, pagerduty, webhook
from tocsin.alerts.events import Action, AlertSeverity, InvalidEvent

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def test_alertmanager_firing_webhook():
    [event] = alertmanager.parse_webhook(sample("am_webhook_firing.json"))
    assert event.action is Action.TRIGGER
    assert event.dedup_key == "dc667fabad98b2d0"
    assert event.title == "Error rate > 5%"
    assert event.severity is AlertSeverity.CRITICAL
    assert event.labels["instance"] == "web-1"
    assert event.details["annotations"]["description"] == "5xx ratio above threshold"
    assert {"href": "http://prom.local/graph", "text": "Prometheus graph"} in event.links
    assert event.occurred_at == datetime(2026, 11, 27, 13, 39, 15, 704307, tzinfo=UTC)


def test_alertmanager_resolved_webhook():
    [event] = alertmanager.parse_webhook(sample("am_webhook_resolved.json"))
    assert event.action is Action.RESOLVE
    assert event.dedup_key == "fea87206e6e9c5ec"
    assert event.severity is AlertSeverity.WARNING


def test_alertmanager_title_falls_back_to_the_alert_name_and_labels():
    body = sample("am_webhook_firing.json")
    del body["alerts"][0]["annotations"]["summary"]
    [event] = alertmanager.parse_webhook(body)
    assert event.title == "HighErrorRate (instance=web-1, service=api, severity=critical)"


@pytest.mark.parametrize(
    "body, problem",
    [
        ([], "JSON object"),
        ({"version": "3", "alerts": []}, "version"),
        ({"alerts": "x"}, "'alerts' must be a list"),
        ({"alerts": [{"status": "firing"}]}, "fingerprint"),
        ({"alerts": [{"status": "burning", "fingerprint": "a"}]}, "status"),
        # Clipped or cleaned, two different fingerprints could fold into one alert.
        ({"alerts": [{"status": "firing", "fingerprint": "f" * 256}]}, "longer than 255"),
        ({"alerts": [{"status": "firing", "fingerprint": "f\x00"}]}, "NUL"),
    ],
)
def test_alertmanager_bodies_that_cannot_be_alerts(body, problem):
    with pytest.raises(InvalidEvent) as invalid:
        alertmanager.parse_webhook(body)
    assert problem in str(invalid.value)


def test_an_annotation_that_is_not_text_shows_as_json():
    body = sample("am_webhook_firing.json")
    body["alerts"][0]["annotations"]["summary"] = {"a": 1}
    [event] = alertmanager.parse_webhook(body)
    assert event.title == '{"a": 1}'


def test_pagerduty_trigger_as_alertmanager_sends_it():
    event = pagerduty.parse_event(sample("am_pagerduty_trigger.json"))
    assert event.action is Action.TRIGGER
    assert event.dedup_key.startswith("8058c3e4")
    assert event.title == "[FIRING:1] HighErrorRate (web-1 api critical)"
    assert event.severity is AlertSeverity.ERROR  # Alertmanager's default, not the label
    assert event.source == "Alertmanager"
    assert event.details["num_firing"] == "1"
    assert event.links == [
        {"href": "http://vm:19093/#/alerts?receiver=pagerduty", "text": "Alertmanager"}
    ]


def test_pagerduty_resolve_as_alertmanager_sends_it():
    event = pagerduty.parse_event(sample("am_pagerduty_resolve.json"))
    assert event.action is Action.RESOLVE
    assert event.dedup_key.startswith("62030f51")


def test_pagerduty_trigger_without_dedup_key_gets_one():
    body = {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "payload": {
            "summary": "Disk full",
            "source": "db-1",
            "severity": "critical",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "component": "postgres",
            "group": "prod",
            "class": "disk",
            "custom_details": {"free": "1%"},
        },
        "links": [{"href": "https://grafana/d/1", "text": "Dashboard"}],
        "images": [{"src": "https://grafana/render/1.png"}],
    }
    first, second = pagerduty.parse_event(body), pagerduty.parse_event(body)
    assert len(first.dedup_key) == 32 and first.dedup_key != second.dedup_key
    assert (first.component, first.group, first.event_class) == ("postgres", "prod", "disk")
    assert first.occurred_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert first.images == [{"src": "https://grafana/render/1.png"}]


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"event_action": "explode"}, "event_action"),
        ({"routing_key": ""}, "routing_key"),
        ({"payload": {"source": "x", "severity": "error"}}, "payload.summary"),
        ({"payload": {"summary": "x", "severity": "error"}}, "payload.source"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"summary": "x" * 1025, "source": "y", "severity": "info"}}, "1024"),
        ({"dedup_key": "d" * 256}, "255"),
        ({"dedup_key": "db\x00-1"}, "NUL"),
        ({"event_action": "resolve", "dedup_key": None}, "required to resolve"),
        ({"links": [{"text": "no href"}]}, "links[0].href"),
        (
            {"payload": {"summary": "x", "source": "y", "severity": "info", "timestamp": "soon"}},
            "timestamp",
        ),
    ],
)
def test_pagerduty_invalid_events_list_what_is_wrong(change, problem):
    body = {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "dedup_key": "a",
        "payload": {"summary": "x", "source": "y", "severity": "info"},
        **change,
    }
    with pytest.raises(InvalidEvent) as invalid:
        pagerduty.parse_event(body)
    assert any(problem in error for error in invalid.value.errors), invalid.value.errors


def test_generic_webhook_names_what_is_missing():
    with pytest.raises(InvalidEvent) as invalid:
        webhook.parse_webhook({"severity": "critical"})
    message = " ".join(invalid.value.errors)
    assert "'dedup_key' is missing" in message and "'title' is missing" in message
    event = webhook.parse_webhook(
        {
            "title": "Queue stuck",
            "dedup_key": "queue:eu",
            "severity": "warning",
            "details": {"depth": 40000},
            "links": [{"href": "https://runbook"}],
        }
    )
    assert (event.action, event.severity, event.details) == (
        Action.TRIGGER,
        AlertSeverity.WARNING,
        {"depth": 40000},
    )
    resolved = webhook.parse_webhook({"dedup_key": "queue:eu", "status": "resolved"})
    assert resolved.action is Action.RESOLVE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_no_body_crashes_a_parser(body):
    """Any JSON either parses or is refused with InvalidEvent: never another exception."""
    for parse in (alertmanager.parse_webhook, pagerduty.parse_event, webhook.parse_webhook):
        with contextlib.suppress(InvalidEvent):
            parse(body)
