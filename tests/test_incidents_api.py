"""Incidents through the REST API: declare, the workflow, roles, handover, timeline, restriction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import assert_error
from tocsin.auth.models import Role


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


def declare(api, **fields):
    body = {"summary": "Checkout fails for EU customers", "severity": "SEV2", **fields}
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def kinds(api, key):
    return [e["kind"] for e in api.get(f"/api/v1/incidents/{key}/timeline").json()]


def test_declaring_makes_the_reporter_incident_manager_and_defaults_the_times(
    rita, responder, clock
):
    incident = declare(
        rita, description="Customers see 500s at payment. Reported by ACME support, +49 30 1234."
    )
    assert incident["key"] == "INC-1"
    assert incident["status"] == "open"
    assert incident["is_major"] is True
    assert incident["incident_manager"]["id"] == responder.id
    assert incident["reporter"]["id"] == responder.id
    assert incident["declared_at"] == incident["detected_at"] == incident["impact_started_at"]
    assert incident["declared_at"].startswith("2026-03-02T09:00:00")
    assert incident["allowed_transitions"] == ["fixing", "cancelled"]
    assert incident["service"] is None  # the faulty service is "unknown" until someone says
    assert declare(rita, severity="SEV3")["key"] == "INC-2"


def test_impact_and_detection_times_are_corrected_later_and_kept_in_order(rita, clock):
    key = declare(rita)["key"]
    earlier = (clock.current - timedelta(minutes=40)).isoformat()
    detected = (clock.current - timedelta(minutes=10)).isoformat()
    changed = rita.patch(
        f"/api/v1/incidents/{key}", json={"impact_started_at": earlier, "detected_at": detected}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["impact_started_at"].startswith("2026-03-02T08:20")
    wrong = rita.patch(
        f"/api/v1/incidents/{key}",
        json={"impact_started_at": (clock.current - timedelta(minutes=5)).isoformat()},
    )
    assert_error(wrong, 422, field="impact_started_at")
    after = rita.get(f"/api/v1/incidents/{key}").json()
    assert after["impact_started_at"].startswith("2026-03-02T08:20")  # nothing written
    assert kinds(rita, key).count("field_changed") == 2


def test_the_workflow_from_open_to_closed(rita, clock):
    # A minor incident: a major one also needs its postmortem approved (test_postmortems.py).
    key = declare(rita, severity="SEV3")["key"]
    clock.advance(minutes=3)
    fixing = rita.post(f"/api/v1/incidents/{key}/status", json={"status": "fixing"}).json()
    assert fixing["status"] == "fixing"
    assert fixing["acknowledged_at"].startswith("2026-03-02T09:03")

    missing = rita.post(f"/api/v1/incidents/{key}/status", json={"status": "resolved"})
    assert_error(missing, 422, field="resolution_summary")

    clock.advance(minutes=30)
    resolved = rita.post(
        f"/api/v1/incidents/{key}/status",
        json={"status": "resolved", "resolution_summary": "Rolled back payment-gateway to v41"},
    ).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolution_summary"] == "Rolled back payment-gateway to v41"
    assert resolved["resolved_at"].startswith("2026-03-02T09:33")

    reopened = rita.post(f"/api/v1/incidents/{key}/status", json={"status": "fixing"}).json()
    assert reopened["resolved_at"] is None
    rita.post(
        f"/api/v1/incidents/{key}/status",
        json={"status": "resolved", "resolution_summary": "Fixed again"},
    )
    closed = rita.post(f"/api/v1/incidents/{key}/status", json={"status": "closed"}).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert closed["allowed_transitions"] == []

    events = rita.get(f"/api/v1/incidents/{key}/timeline").json()
    assert events[0]["message"] == "Status changed from resolved to closed"  # newest first
    assert [e["kind"] for e in events].count("status_changed") == 5
    assert events[-1]["kind"] == "declared"


def test_an_illegal_move_is_refused_with_409_naming_the_allowed_ones(rita):
    key = declare(rita)["key"]
    refused = rita.post(f"/api/v1/incidents/{key}/status", json={"status": "closed"})
    error = assert_error(refused, 409, code="illegal_transition")
    assert "fixing" in error["message"] and "cancelled" in error["message"]
    assert rita.get(f"/api/v1/incidents/{key}").json()["status"] == "open"
    assert kinds(rita, key) == ["declared"]


def test_cancelling_a_false_alarm_needs_a_reason(rita):
    key = declare(rita)["key"]
    assert_error(
        rita.post(f"/api/v1/incidents/{key}/status", json={"status": "cancelled"}),
        422,
        field="reason",
    )
    cancelled = rita.post(
        f"/api/v1/incidents/{key}/status",
        json={"status": "cancelled", "reason": "Synthetic check misfired"},
    ).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancel_reason"] == "Synthetic check misfired"
    assert cancelled["cancelled_at"]


def test_every_field_change_is_its_own_timeline_event(rita, api_as, admin):
    ada = api_as(admin)
    service = ada.post("/api/v1/services", json={"name": "payments"}).json()
    product = ada.post("/api/v1/products", json={"name": "Checkout"}).json()
    key = declare(rita)["key"]
    changed = rita.patch(
        f"/api/v1/incidents/{key}",
        json={
            "severity": "SEV1",
            "summary": "Checkout down for everyone",
            "service_id": service["id"],
            "product_ids": [product["id"]],
        },
    ).json()
    assert changed["severity"] == "SEV1"
    assert changed["service"]["name"] == "payments"
    assert [p["name"] for p in changed["products"]] == ["Checkout"]
    events = rita.get(f"/api/v1/incidents/{key}/timeline").json()
    messages = [e["message"] for e in events]
    assert "Severity changed from SEV2 to SEV1" in messages
    assert "Faulty service changed from unknown to payments" in messages
    assert "Affected products: Checkout" in messages
    assert any(m.startswith("Summary changed") for m in messages)
    severity_event = next(e for e in events if e["kind"] == "severity_changed")
    assert severity_event["data"] == {"severity": ["SEV2", "SEV1"]}
    assert severity_event["actor"]["name"] == "Rita Responder"


def test_handover_takes_effect_only_when_accepted(rita, api_as, make_user, responder):
    bob = make_user(Role.RESPONDER, name="Bob Builder")
    as_bob = api_as(bob)
    key = declare(rita)["key"]

    # Bob cannot hand over an incident he does not manage.
    assert_error(as_bob.post(f"/api/v1/incidents/{key}/handover", json={"to_user_id": bob.id}), 403)

    pending = rita.post(
        f"/api/v1/incidents/{key}/handover", json={"to_user_id": bob.id, "note": "shift ends"}
    ).json()
    assert pending["handover_to"]["id"] == bob.id
    assert pending["incident_manager"]["id"] == responder.id  # the old one stays in charge

    # Only the person asked can accept.
    assert_error(rita.post(f"/api/v1/incidents/{key}/handover/accept"), 403)
    accepted = as_bob.post(f"/api/v1/incidents/{key}/handover/accept").json()
    assert accepted["incident_manager"]["id"] == bob.id
    assert accepted["handover_to"] is None
    messages = [e["message"] for e in as_bob.get(f"/api/v1/incidents/{key}/timeline").json()]
    assert messages[0] == "Bob Builder is now the incident manager, taking over from Rita Responder"
    assert (
        "Rita Responder asked Bob Builder to take over as incident manager: shift ends" in messages
    )
    # Accepting twice is not possible.
    assert_error(as_bob.post(f"/api/v1/incidents/{key}/handover/accept"), 409, code="no_handover")


def test_a_declined_or_withdrawn_handover_changes_nothing(rita, api_as, make_user, responder):
    bob = make_user(Role.RESPONDER, name="Bob")
    key = declare(rita)["key"]
    rita.post(f"/api/v1/incidents/{key}/handover", json={"to_user_id": bob.id})
    declined = api_as(bob).post(f"/api/v1/incidents/{key}/handover/decline").json()
    assert declined["incident_manager"]["id"] == responder.id and declined["handover_to"] is None
    rita.post(f"/api/v1/incidents/{key}/handover", json={"to_user_id": bob.id})
    withdrawn = rita.post(f"/api/v1/incidents/{key}/handover/cancel").json()
    assert withdrawn["handover_to"] is None
    assert kinds(rita, key)[:4] == [
        "handover_cancelled",
        "handover_requested",
        "handover_declined",
        "handover_requested",
    ]


def test_the_incident_manager_assigns_tech_leads_and_communications(
    rita, api_as, make_user, viewer
):
    tess, carl = (
        make_user(Role.RESPONDER, name="Tess Tech"),
        make_user(Role.RESPONDER, name="Carl Comms"),
    )
    key = declare(rita)["key"]
    assigned = rita.put(
        f"/api/v1/incidents/{key}/roles",
        json={"tech_lead_ids": [tess.id], "communications_manager_id": carl.id},
    ).json()
    assert [u["name"] for u in assigned["tech_leads"]] == ["Tess Tech"]
    assert assigned["communications_manager"]["name"] == "Carl Comms"
    assert "Carl Comms is now the communications manager" in [
        e["message"] for e in rita.get(f"/api/v1/incidents/{key}/timeline").json()
    ]
    # Someone who is not the incident manager cannot reassign roles.
    assert_error(
        api_as(tess).put(f"/api/v1/incidents/{key}/roles", json={"tech_lead_ids": []}), 403
    )
    # A viewer cannot hold a role.
    assert_error(
        rita.put(f"/api/v1/incidents/{key}/roles", json={"tech_lead_ids": [viewer.id]}),
        422,
        field="tech_lead_ids",
    )
    cleared = rita.put(
        f"/api/v1/incidents/{key}/roles", json={"communications_manager_id": None}
    ).json()
    assert cleared["communications_manager"] is None
    assert [u["name"] for u in cleared["tech_leads"]] == ["Tess Tech"]


def test_notes_and_stars(rita, api_as, viewer):
    key = declare(rita)["key"]
    note = rita.post(f"/api/v1/incidents/{key}/notes", json={"text": "DB primary is at 100% CPU"})
    assert note.status_code == 201
    event_id = note.json()["id"]
    starred = rita.put(
        f"/api/v1/incidents/{key}/timeline/{event_id}/star", json={"starred": True}
    ).json()
    assert starred["starred"] is True and starred["message"] == "DB primary is at 100% CPU"
    only_starred = rita.get(f"/api/v1/incidents/{key}/timeline", params={"starred": "true"}).json()
    assert [e["id"] for e in only_starred] == [event_id]
    assert_error(api_as(viewer).post(f"/api/v1/incidents/{key}/notes", json={"text": "hi"}), 403)
    assert_error(
        rita.put(f"/api/v1/incidents/{key}/timeline/999999/star", json={"starred": True}), 404
    )


def test_listing_filters_and_pages(rita, api_as, admin, make_user):
    ada = api_as(admin)
    payments = ada.post("/api/v1/services", json={"name": "payments"}).json()["id"]
    other = make_user(Role.RESPONDER)
    as_other = api_as(other)
    for n in range(7):
        declare(
            rita,
            summary=f"Rita incident {n}",
            severity="SEV1" if n % 2 else "SEV3",
            service_id=payments if n < 3 else None,
        )
    declare(as_other, summary="Queue backlog in EU", severity="SEV2")
    rita.post("/api/v1/incidents/INC-2/status", json={"status": "fixing"})

    def keys(**params):
        body = rita.get("/api/v1/incidents", params=params).json()
        return [i["key"] for i in body["items"]]

    assert keys() == [f"INC-{n}" for n in range(8, 0, -1)]
    assert keys(status="fixing") == ["INC-2"]
    assert keys(severity="SEV1") == ["INC-6", "INC-4", "INC-2"]
    assert keys(severity=["SEV1", "SEV2"]) == ["INC-8", "INC-6", "INC-4", "INC-2"]
    assert keys(service_id=payments) == ["INC-3", "INC-2", "INC-1"]
    assert keys(incident_manager_id=other.id) == ["INC-8"]
    assert keys(q="backlog") == ["INC-8"]
    assert keys(q="inc-5") == ["INC-5"]
    assert keys(q="100%") == []  # LIKE wildcards are taken literally

    first = rita.get("/api/v1/incidents", params={"limit": 3}).json()
    assert [i["key"] for i in first["items"]] == ["INC-8", "INC-7", "INC-6"]
    seen = [i["key"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = rita.get("/api/v1/incidents", params={"limit": 3, "cursor": cursor}).json()
        seen += [i["key"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"INC-{n}" for n in range(8, 0, -1)]


def test_a_restricted_incident_is_seen_only_by_participants_and_admins(
    rita, api_as, admin, make_user
):
    outsider = api_as(make_user(Role.RESPONDER, name="Otto Outsider"))
    helper = make_user(Role.RESPONDER, name="Hana Helper")
    declare(rita, summary="Ordinary outage")
    secret = declare(rita, summary="Customer data exposed via S3", severity="SEV1", restricted=True)
    key = secret["key"]

    assert [i["key"] for i in outsider.get("/api/v1/incidents").json()["items"]] == ["INC-1"]
    assert outsider.get("/api/v1/incidents", params={"q": "S3"}).json()["items"] == []
    assert_error(outsider.get(f"/api/v1/incidents/{key}"), 404)
    assert_error(outsider.get(f"/api/v1/incidents/{key}/timeline"), 404)
    assert_error(outsider.post(f"/api/v1/incidents/{key}/notes", json={"text": "peek"}), 404)

    assert api_as(admin).get(f"/api/v1/incidents/{key}").status_code == 200
    rita.post(f"/api/v1/incidents/{key}/participants", json={"user_id": helper.id})
    assert (
        api_as(helper).get(f"/api/v1/incidents/{key}").json()["summary"]
        == "Customer data exposed via S3"
    )

    # Only the incident manager lifts the restriction.
    as_helper = api_as(helper)
    assert_error(as_helper.patch(f"/api/v1/incidents/{key}", json={"restricted": False}), 403)
    rita.patch(f"/api/v1/incidents/{key}", json={"restricted": False})
    assert outsider.get(f"/api/v1/incidents/{key}").status_code == 200


def test_a_viewer_reads_but_cannot_change_anything(api_as, viewer, rita):
    key = declare(rita)["key"]
    as_viewer = api_as(viewer)
    assert as_viewer.get(f"/api/v1/incidents/{key}").status_code == 200
    assert_error(
        as_viewer.post("/api/v1/incidents", json={"summary": "x", "severity": "SEV3"}), 403
    )
    assert_error(as_viewer.patch(f"/api/v1/incidents/{key}", json={"summary": "y"}), 403)
    assert_error(as_viewer.post(f"/api/v1/incidents/{key}/status", json={"status": "fixing"}), 403)
    assert_error(as_viewer.post("/api/v1/services", json={"name": "s"}), 403)
    assert (
        as_viewer.get("/api/v1/incidents").json()["items"][0]["summary"]
        == "Checkout fails for EU customers"
    )
    assert kinds(rita, key) == ["declared"]
