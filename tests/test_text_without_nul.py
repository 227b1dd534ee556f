"""A NUL character in any text is a 4xx naming the field, on every way in: PostgreSQL
refuses NUL in text, which was a 500 wherever a field missed the check (found by
fuzzing). SQLite would store it, so both databases give the same answer."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import assert_error, browser_login
from tocsin.auth.models import ApiToken
from tocsin.timeline.models import TimelineEvent

NUL = "a\x00b"


def test_api_fields_refuse_nul(api_as, responder):
    rita = api_as(responder)
    method = {"channel": "email", "address": "rita@example.com", "label": NUL}
    assert_error(rita.post("/api/v1/me/contact-methods", json=method), 422, field="label")
    layer = {
        "name": NUL,
        "participant_ids": [responder.id],
        "shift_unit": "weeks",
        "shift_length": 1,
        "handoff_time": "09:00",
        "start": "2026-03-02",
    }
    schedule = {"name": "Payments", "time_zone": "UTC", "layers": [layer]}
    refused = rita.post("/api/v1/schedules", json=schedule)
    assert refused.status_code == 422 and "name" in refused.json()["error"]["field"]
    assert rita.get("/api/v1/schedules").json() == []
    assert_error(rita.get("/api/v1/alerts", params={"q": NUL}), 422, field="q")


def test_forms_refuse_nul_and_store_nothing(app, db, responder, api_as):
    key = (
        api_as(responder)
        .post("/api/v1/incidents", json={"summary": "Checkout fails", "severity": "SEV2"})
        .json()["key"]
    )
    with TestClient(app) as browser:
        csrf = browser_login(browser, responder)
        browser.post("/settings/tokens", data={"csrf_token": csrf, "name": NUL})
        browser.post(f"/incidents/{key}/notes", data={"csrf_token": csrf, "text": NUL})
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 1  # api_as's own
        notes = select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "note")
        assert session.scalar(notes) == 0
