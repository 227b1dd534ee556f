"""People are told when their on-call shift starts and ends, once."""

from __future__ import annotations

from tests.alerting import run_engine
from tocsin.auth.models import Role
from tocsin.config import Settings


def test_the_handoff_tells_both_people_once(db, clock, api_as, admin, make_user, smtp_server):
    ada = api_as(admin)
    anna = make_user(Role.RESPONDER, name="Anna", email="anna@example.com")
    ben = make_user(Role.RESPONDER, name="Ben", email="ben@example.com")
    created = ada.post(
        "/api/v1/schedules",
        json={
            "name": "Payments primary",
            "time_zone": "UTC",
            "layers": [
                {
                    "participant_ids": [anna.id, ben.id],
                    "shift_unit": "days",
                    "shift_length": 1,
                    "handoff_time": "09:00",
                    "start": "2026-03-01",
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    settings = Settings(
        database_url=db.url, base_url="http://tocsin.test", smtp_url=smtp_server.url
    )
    clock.current = clock.current.replace(
        hour=8, minute=58
    )  # Monday 2 March, Ben's day ends at 09:00
    run_engine(db, settings)
    assert smtp_server.messages == []
    clock.advance(minutes=3)
    run_engine(db, settings)
    clock.advance(minutes=2)
    run_engine(db, settings)  # a later pass, or another worker, sends nothing twice
    [started] = smtp_server.to("ben@example.com")
    assert started["Subject"] == "You are on call for Payments primary"
    assert "until Tue Mar 03, 09:00 UTC" in started.get_content()
    [ended] = smtp_server.to("anna@example.com")
    assert ended["Subject"] == "Your on-call shift for Payments primary has ended"
