"""On-call through the REST API: schedules, overrides, escalation policies, who is on call,
the calendar feeds, and the service functions the paging engine calls. SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from fastapi.testclient import TestClient

from tests.conftest import _empty_tables, assert_error
from tests.test_bad_input import snapshot
from tocsin.app import create_app
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate, UserUpdate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate
from tocsin.config import Settings
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import LayerIn, LevelIn, OverrideCreate, PolicyCreate, ScheduleCreate

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock fixture's start: 10:00 in Berlin
UNKNOWN = 999_999


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def people(db, make_user, admin) -> dict[str, User]:
    """A payments team (Bob, Cyd, Dee), their manager Mia, an outsider and a viewer."""
    found = {"admin": admin}
    for key, name, role in [
        ("bob", "Bob Builder", Role.RESPONDER),
        ("cyd", "Cyd Carter", Role.RESPONDER),
        ("dee", "Dee Dover", Role.RESPONDER),
        ("mia", "Mia Manager", Role.RESPONDER),
        ("out", "Otto Outsider", Role.RESPONDER),
        ("vic", "Vic Viewer", Role.VIEWER),
    ]:
        found[key] = make_user(role, name=name)
    return found


@pytest.fixture
def world(db, people, clock) -> dict[str, Any]:
    with db.begin() as session:
        members = [people[k].id for k in ("bob", "cyd", "dee", "mia")]
        team = auth.create_team(
            session, people["admin"], TeamCreate(name="Payments", member_ids=members)
        )
        service = catalogue.create_service(
            session, people["admin"], ServiceCreate(name="Checkout API", team_id=team.id)
        )
        other = catalogue.create_service(session, people["admin"], ServiceCreate(name="Search"))
        return {"team": team.id, "service": service.id, "other_service": other.id}


def weekly(*who: User, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Weekly",
        "participant_ids": [u.id for u in who],
        "shift_unit": "weeks",
        "shift_length": 1,
        "handoff_time": "09:00",
        "start": "2026-03-02",
        **extra,
    }


def office_hours(*who: User) -> dict[str, Any]:
    return {
        "name": "Office hours",
        "participant_ids": [u.id for u in who],
        "shift_unit": "days",
        "shift_length": 1,
        "start": "2026-03-02",
        "restrictions": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
        ],
    }


@pytest.fixture
def primary(api_as, people, world) -> dict[str, Any]:
    """Journey 6: a weekly rotation (Bob, Cyd) in Berlin with a weekday daytime layer (Dee)."""
    body = {
        "name": "Payments primary",
        "time_zone": "Europe/Berlin",
        "team_id": world["team"],
        "layers": [weekly(people["bob"], people["cyd"]), office_hours(people["dee"])],
    }
    response = api_as(people["bob"]).post("/api/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# ---------------------------------------------------------------- schedules


def test_a_team_member_builds_a_weekly_rotation_with_a_weekday_daytime_layer(
    api_as, people, primary
):
    api = api_as(people["bob"])
    assert [layer["name"] for layer in primary["layers"]] == ["Weekly", "Office hours"]
    assert primary["layers"][1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    ]
    assert [p["name"] for p in primary["layers"][0]["participants"]] == [
        "Bob Builder",
        "Cyd Carter",
    ]
    sid = primary["id"]
    # Monday 10:00 in Berlin: office hours.
    now = api.get(f"/api/v1/schedules/{sid}/on-call").json()
    assert now["user"]["name"] == "Dee Dover"
    assert now["source"] == "layer" and now["layer_id"] == primary["layers"][1]["id"]
    assert at(now["until"]) == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 17:00 in Berlin
    # Tuesday 03:00 in Berlin: the weekly rotation's first person.
    night = api.get(f"/api/v1/schedules/{sid}/on-call", params={"at": "2026-03-03T02:00:00Z"})
    assert night.json()["user"]["name"] == "Bob Builder"
    # The next week is Cyd's; the Saturday after has nobody from office hours.
    saturday = api.get(f"/api/v1/schedules/{sid}/on-call", params={"at": "2026-03-14T11:00:00Z"})
    assert saturday.json()["user"]["name"] == "Cyd Carter"
    shifts = api.get(
        f"/api/v1/schedules/{sid}/shifts",
        params={"start": "2026-03-02T08:00:00Z", "end": "2026-03-04T08:00:00Z"},
    ).json()
    assert [(s["user"]["name"], s["start"], s["end"]) for s in shifts] == [
        ("Dee Dover", "2026-03-02T08:00:00Z", "2026-03-02T16:00:00Z"),
        ("Bob Builder", "2026-03-02T16:00:00Z", "2026-03-03T08:00:00Z"),
        ("Dee Dover", "2026-03-03T08:00:00Z", "2026-03-03T16:00:00Z"),
        ("Bob Builder", "2026-03-03T16:00:00Z", "2026-03-04T08:00:00Z"),
    ]


def test_shifts_default_to_the_next_two_weeks_and_agree_with_the_service(
    api_as, people, primary, db
):
    shifts = api_as(people["vic"]).get(f"/api/v1/schedules/{primary['id']}/shifts").json()
    assert at(shifts[0]["start"]) == MONDAY
    assert at(shifts[-1]["end"]) == MONDAY + timedelta(days=14)
    with db.begin() as session:
        expected = oncall.shifts_between(
            session, primary["id"], MONDAY, MONDAY + timedelta(days=14)
        )
        assert [(s.user.id, s.start, s.end) for s in expected] == [
            (s["user"]["id"], at(s["start"]), at(s["end"])) for s in shifts
        ]


def test_layers_are_added_on_top_changed_reordered_and_removed(api_as, people, primary):
    api = api_as(people["cyd"])
    sid = primary["id"]
    top = api.post(f"/api/v1/schedules/{sid}/layers", json=weekly(people["mia"], name="Holidays"))
    assert top.status_code == 201, top.text
    assert top.json()["position"] == 2
    # Mia's layer has no restrictions: it now wins everywhere.
    assert api.get(f"/api/v1/schedules/{sid}/on-call").json()["user"]["name"] == "Mia Manager"
    bottom_first = [primary["layers"][0]["id"], top.json()["id"], primary["layers"][1]["id"]]
    reordered = api.put(f"/api/v1/schedules/{sid}/layer-order", json={"layer_ids": bottom_first})
    assert [layer["name"] for layer in reordered.json()["layers"]] == [
        "Weekly",
        "Holidays",
        "Office hours",
    ]
    assert api.get(f"/api/v1/schedules/{sid}/on-call").json()["user"]["name"] == "Dee Dover"
    changed = api.put(
        f"/api/v1/schedules/{sid}/layers/{primary['layers'][1]['id']}",
        json={**office_hours(people["cyd"]), "handoff_time": "08:00"},
    )
    assert changed.json()["participants"][0]["name"] == "Cyd Carter"
    assert changed.json()["handoff_time"] == "08:00"
    assert api.delete(f"/api/v1/schedules/{sid}/layers/{top.json()['id']}").status_code == 204
    layers = api.get(f"/api/v1/schedules/{sid}").json()["layers"]
    assert [(layer["name"], layer["position"]) for layer in layers] == [
        ("Weekly", 0),
        ("Office hours", 1),
    ]


def test_everyone_reads_only_admins_and_the_owning_team_change(api_as, people, primary, world):
    sid = primary["id"]
    for key in ("vic", "out", "admin"):
        assert api_as(people[key]).get(f"/api/v1/schedules/{sid}").status_code == 200
    assert_error(
        api_as(people["out"]).patch(f"/api/v1/schedules/{sid}", json={"name": "Mine now"}),
        403,
        "forbidden",
    )
    assert_error(
        api_as(people["vic"]).post(f"/api/v1/schedules/{sid}/layers", json=weekly(people["bob"])),
        403,
    )
    # A responder must name a team of their own; admins may keep a schedule without a team.
    assert_error(api_as(people["out"]).post("/api/v1/schedules", json={"name": "Solo"}), 403)
    own = {"name": "Theirs", "team_id": world["team"]}
    assert_error(api_as(people["out"]).post("/api/v1/schedules", json=own), 403)
    assert (
        api_as(people["admin"]).post("/api/v1/schedules", json={"name": "Solo"}).status_code == 201
    )
    renamed = api_as(people["admin"]).patch(f"/api/v1/schedules/{sid}", json={"name": "Payments"})
    assert renamed.json()["name"] == "Payments"


# ---------------------------------------------------------------- overrides


def test_an_override_wins_over_every_layer_and_ends_early_when_removed(
    api_as, people, primary, clock
):
    api = api_as(people["bob"])
    sid = primary["id"]
    body = {
        "user_id": people["mia"].id,
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T12:00:00Z",
        "note": "Dee at the dentist",
    }
    created = api.post(f"/api/v1/schedules/{sid}/overrides", json=body)
    assert created.status_code == 201, created.text
    now = api.get(f"/api/v1/schedules/{sid}/on-call").json()
    assert (now["user"]["name"], now["source"]) == ("Mia Manager", "override")
    assert at(now["until"]) == datetime(2026, 3, 2, 12, tzinfo=UTC)
    listed = api.get(f"/api/v1/schedules/{sid}/overrides").json()
    assert [o["note"] for o in listed] == ["Dee at the dentist"]
    clock.advance(hours=1)
    override_id = created.json()["id"]
    assert api.delete(f"/api/v1/schedules/{sid}/overrides/{override_id}").status_code == 204
    # A running override ends now: the past hour stays Mia's.
    assert api.get(f"/api/v1/schedules/{sid}/on-call").json()["user"]["name"] == "Dee Dover"
    past = api.get(f"/api/v1/schedules/{sid}/on-call", params={"at": "2026-03-02T09:30:00Z"}).json()
    assert past["user"]["name"] == "Mia Manager"
    clock.advance(hours=5)
    assert_error(api.delete(f"/api/v1/schedules/{sid}/overrides/{override_id}"), 409, "conflict")
    # An override asked to start in the past starts now: who was on call stays as it was.
    late = {**body, "starts_at": "2026-03-01T09:00:00Z", "ends_at": "2026-03-02T18:00:00Z"}
    created = api.post(f"/api/v1/schedules/{sid}/overrides", json=late).json()
    assert (created["starts_at"], created["ends_at"]) == (
        "2026-03-02T15:00:00Z",
        "2026-03-02T18:00:00Z",
    )


# ---------------------------------------------------------------- escalation policies


@pytest.fixture
def secondary(api_as, people, world) -> dict[str, Any]:
    body = {
        "name": "Payments secondary",
        "time_zone": "Europe/Berlin",
        "team_id": world["team"],
        "layers": [weekly(people["cyd"], people["bob"])],
    }
    return api_as(people["admin"]).post("/api/v1/schedules", json=body).json()


@pytest.fixture
def policy(api_as, people, world, primary, secondary) -> dict[str, Any]:
    """Journey 6: primary, then secondary after 5 minutes, then the manager; twice more."""
    body = {
        "name": "Payments",
        "team_id": world["team"],
        "repeat_count": 2,
        "levels": [
            {"delay_minutes": 5, "targets": [{"type": "schedule", "id": primary["id"]}]},
            {"delay_minutes": 5, "targets": [{"type": "schedule", "id": secondary["id"]}]},
            {"delay_minutes": 10, "targets": [{"type": "user", "id": people["mia"].id}]},
        ],
    }
    response = api_as(people["bob"]).post("/api/v1/escalation-policies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_policy_has_ordered_levels_and_a_service_pages_through_it(
    api_as, people, world, policy, db
):
    api = api_as(people["bob"])
    assert [lv["targets"][0]["name"] for lv in policy["levels"]] == [
        "On call in Payments primary",
        "On call in Payments secondary",
        "Mia Manager",
    ]
    assert [lv["delay_minutes"] for lv in policy["levels"]] == [5, 5, 10]
    url = f"/api/v1/services/{world['service']}/escalation-policy"
    assert api.get(url).json()["escalation_policy"] is None
    chosen = api.put(url, json={"escalation_policy_id": policy["id"]})
    assert chosen.json() == {
        "service": {"id": world["service"], "name": "Checkout API"},
        "escalation_policy": {"id": policy["id"], "name": "Payments"},
    }
    now = api_as(people["vic"]).get("/api/v1/oncall/now").json()
    assert [(r["service"]["name"], [p["user"]["name"] for p in r["on_call"]]) for r in now] == [
        ("Checkout API", ["Dee Dover"]),
        ("Search", []),
    ]
    assert now[0]["on_call"][0]["via"] == "on call in Payments primary"
    # What the paging engine reads.
    with db.begin() as session:
        found = oncall.policy_of_service(session, world["service"])
        assert found is not None and found.repeat == 2
        levels = oncall.levels_of(found)
        assert [lv.delay_minutes for lv in levels] == [5, 5, 10]
        # Secondary rotates the other way round: Cyd first.
        assert [u.name for u in oncall.resolve_targets(session, levels[1], MONDAY)] == [
            "Cyd Carter"
        ]
        assert oncall.policy_of_service(session, world["other_service"]) is None
    # Only the service's team (and admins) choose its policy.
    assert_error(api_as(people["out"]).put(url, json={"escalation_policy_id": None}), 403)
    # A policy in use cannot go; the schedules it pages cannot either.
    assert_error(api.delete(f"/api/v1/escalation-policies/{policy['id']}"), 409, "conflict")
    schedule_id = policy["levels"][0]["targets"][0]["id"]
    assert_error(api.delete(f"/api/v1/schedules/{schedule_id}"), 409, "conflict")
    assert api.put(url, json={"escalation_policy_id": None}).json()["escalation_policy"] is None
    assert api.delete(f"/api/v1/escalation-policies/{policy['id']}").status_code == 204


def test_levels_are_added_changed_reordered_and_removed(api_as, people, policy, world):
    api = api_as(people["cyd"])
    pid = policy["id"]
    team_level = {"delay_minutes": 15, "targets": [{"type": "team", "id": world["team"]}]}
    added = api.post(f"/api/v1/escalation-policies/{pid}/levels", json=team_level)
    assert added.status_code == 201 and added.json()["position"] == 3
    ids = [lv["id"] for lv in policy["levels"]] + [added.json()["id"]]
    order = api.put(f"/api/v1/escalation-policies/{pid}/level-order", json={"level_ids": ids[::-1]})
    assert [lv["delay_minutes"] for lv in order.json()["levels"]] == [15, 10, 5, 5]
    changed = api.put(
        f"/api/v1/escalation-policies/{pid}/levels/{ids[0]}",
        json={"delay_minutes": 3, "targets": [{"type": "user", "id": people["dee"].id}]},
    )
    assert changed.json()["targets"] == [
        {"type": "user", "id": people["dee"].id, "name": "Dee Dover"}
    ]
    assert api.delete(f"/api/v1/escalation-policies/{pid}/levels/{ids[1]}").status_code == 204
    levels = api.get(f"/api/v1/escalation-policies/{pid}").json()["levels"]
    assert [(lv["position"], lv["delay_minutes"]) for lv in levels] == [(0, 15), (1, 10), (2, 3)]
    replaced = api.put(f"/api/v1/escalation-policies/{pid}/levels", json={"levels": [team_level]})
    assert [lv["delay_minutes"] for lv in replaced.json()["levels"]] == [15]


def test_resolve_targets_expands_schedules_and_teams_once_each_active_responders_only(
    db, people, world, primary, policy
):
    with db.begin() as session:
        auth.update_user(session, people["admin"], people["cyd"].id, UserUpdate(is_active=False))
        auth.add_team_member(session, people["admin"], world["team"], people["vic"].id)
    body = {
        "delay_minutes": 5,
        "targets": [
            {"type": "schedule", "id": primary["id"]},  # Dee, in office hours
            {"type": "user", "id": people["dee"].id},  # Dee again
            {"type": "team", "id": world["team"]},  # Bob, Cyd (inactive), Dee, Mia, Vic (viewer)
        ],
    }
    with db.begin() as session:
        level = oncall.add_level(
            session, people["admin"], policy["id"], LevelIn.model_validate(body)
        )
        names = [u.name for u in oncall.resolve_targets(session, level, MONDAY)]
        assert names == ["Dee Dover", "Bob Builder", "Mia Manager"]
        # At night the schedule has Bob: he comes first, still once.
        night = datetime(2026, 3, 3, 2, tzinfo=UTC)
        assert [u.name for u in oncall.resolve_targets(session, level, night)] == [
            "Bob Builder",
            "Dee Dover",
            "Mia Manager",
        ]
        assert oncall.people_on_call(session, primary["id"], night)[0].name == "Bob Builder"
        assert oncall.people_on_call(session, UNKNOWN, night) == []
        assert oncall.schedule_exists(session, primary["id"])


# ---------------------------------------------------------------- my shifts and calendar feeds


def test_my_shifts_list_only_my_turns_in_every_schedule(api_as, people, primary, secondary):
    mine = (
        api_as(people["bob"])
        .get("/api/v1/oncall/mine", params={"end": "2026-03-09T09:00:00Z"})
        .json()
    )
    assert {s["schedule"]["name"] for s in mine} == {"Payments primary", "Payments secondary"}
    starts = [at(s["start"]) for s in mine]
    assert starts == sorted(starts)
    assert api_as(people["vic"]).get("/api/v1/oncall/mine").json() == []


def feed_events(client, url: str) -> list[tuple[str, datetime, datetime, str]]:
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    feed = icalendar.Calendar.from_ical(response.content)
    assert feed["version"] == "2.0"
    return [
        (str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend"), str(e["uid"]))
        for e in feed.walk("VEVENT")
    ]


def test_the_schedule_feed_has_one_event_per_shift_behind_a_secret_that_rotates(
    api_as, client, people, primary, db, clock
):
    api = api_as(people["bob"])
    sid = primary["id"]
    assert_error(api_as(people["vic"]).post(f"/api/v1/schedules/{sid}/calendar-feed"), 403)
    url = api.post(f"/api/v1/schedules/{sid}/calendar-feed").json()["url"]
    assert url.startswith(f"http://testserver/oncall/schedules/{sid}/calendar.ics?token=ics_")
    events = feed_events(client, url)
    with db.begin() as session:
        start, end = oncall.FeedWindow().around(MONDAY)
        shifts = oncall.whole_shifts(session, oncall.get_schedule(session, sid), start, end)
    assert [(f"On call: {s.user.name}", s.start, s.end) for s in shifts] == [e[:3] for e in events]
    assert all(e[1].tzinfo is not None and e[1].utcoffset() == timedelta(0) for e in events)
    # UIDs are unique, and the same the next time (an hour later) for the same shifts.
    assert len({e[3] for e in events}) == len(events)
    clock.advance(hours=1)
    assert {e[3] for e in feed_events(client, url)} == {e[3] for e in events}
    # No login needed, but the right secret is: any other token is a 404.
    token = url.split("token=")[1]
    for wrong in ["", "nope", token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x"]:
        assert_error(
            client.get(f"/oncall/schedules/{sid}/calendar.ics", params={"token": wrong}), 404
        )
    assert_error(
        client.get(f"/oncall/schedules/{UNKNOWN}/calendar.ics", params={"token": token}), 404
    )
    rotated = api.post(f"/api/v1/schedules/{sid}/calendar-feed").json()["url"]
    assert_error(client.get(f"/oncall/schedules/{sid}/calendar.ics", params={"token": token}), 404)
    assert feed_events(client, rotated)


def test_the_personal_feed_has_my_shifts_in_every_schedule(
    api_as, client, people, primary, secondary
):
    api = api_as(people["bob"])
    url = api.post("/api/v1/oncall/mine/calendar-feed").json()["url"]
    assert f"/oncall/users/{people['bob'].id}/calendar.ics?token=" in url
    events = feed_events(client, url)
    assert {e[0] for e in events} == {"On call: Payments primary", "On call: Payments secondary"}
    mine = api.get(
        "/api/v1/oncall/mine",
        params={"start": "2026-03-02T09:00:00Z", "end": "2026-03-30T09:00:00Z"},
    ).json()
    in_feed = {(e[0].removeprefix("On call: "), e[1], e[2]) for e in events}
    for shift in mine:
        if at(shift["end"]) < datetime(2026, 3, 30, tzinfo=UTC):
            assert (shift["schedule"]["name"], at(shift["start"]), at(shift["end"])) in in_feed
    # Someone else's feed path with Bob's secret opens nothing.
    token = url.split("token=")[1]
    other = f"/oncall/users/{people['cyd'].id}/calendar.ics"
    assert_error(client.get(other, params={"token": token}), 404)


def a_rotation(api, people, team: int, *who: str, name: str = "Nights") -> tuple[int, str]:
    """A weekly Berlin rotation from Monday 29 December 2025, handing off Mondays 09:00."""
    body = {
        "name": name,
        "time_zone": "Europe/Berlin",
        "team_id": team,
        "layers": [weekly(*(people[k] for k in who), start="2025-12-29")],
    }
    created = api.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    return sid, api.post(f"/api/v1/schedules/{sid}/calendar-feed").json()["url"]


def test_the_feed_shows_a_year_ahead_and_never_cuts_a_shift_at_its_edges(
    api_as, client, people, world
):
    """Fetched Monday 2 March 2026: 30 days back (from 31 January) to a year ahead (2 March
    2027); the shifts running across both edges appear whole, handoff to handoff."""
    api = api_as(people["bob"])
    _sid, url = a_rotation(api, people, world["team"], "bob", "cyd")
    events = feed_events(client, url)
    first, last = events[0], events[-1]
    # 31 January 00:00 UTC falls in the shift of Monday 26 January 09:00 Berlin (08:00 UTC).
    assert first[1:3] == (at("2026-01-26T08:00:00Z"), at("2026-02-02T08:00:00Z"))
    # 2 March 2027 00:00 UTC falls in the shift of Monday 1 March 2027 09:00 Berlin.
    assert last[1:3] == (at("2027-03-01T08:00:00Z"), at("2027-03-08T08:00:00Z"))
    # Every week handoff to handoff (an hour less or more across daylight saving), no gaps.
    assert all(abs(e[2] - e[1] - timedelta(days=7)) <= timedelta(hours=1) for e in events)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(events))
    assert len(events) == 58  # Monday 26 January 2026 to Monday 1 March 2027
    # Cyd's personal feed has the same whole shifts (every other week).
    mine = feed_events(
        client, api_as(people["cyd"]).post("/api/v1/oncall/mine/calendar-feed").json()["url"]
    )
    assert {e[1:3] for e in mine} <= {e[1:3] for e in events}
    assert mine[-1][1:3] == (at("2027-03-01T08:00:00Z"), at("2027-03-08T08:00:00Z"))


def test_the_feed_window_is_a_setting(api_as, app, client, people, world):
    app.state.settings.calendar_feed_days_back = 0
    app.state.settings.calendar_feed_days_ahead = 10
    _sid, url = a_rotation(api_as(people["bob"]), people, world["team"], "bob", "cyd")
    events = feed_events(client, url)
    # Monday 2 March 00:00 UTC to 12 March 00:00 UTC, the shifts overlapping it whole.
    assert [e[1:3] for e in events] == [
        (at("2026-02-23T08:00:00Z"), at("2026-03-02T08:00:00Z")),
        (at("2026-03-02T08:00:00Z"), at("2026-03-09T08:00:00Z")),
        (at("2026-03-09T08:00:00Z"), at("2026-03-16T08:00:00Z")),
    ]
    for bad in ({"calendar_feed_days_ahead": 0}, {"calendar_feed_days_back": -1}):
        with pytest.raises(ValueError):
            Settings(**bad)
    assert Settings().calendar_feed_days_ahead == 365 and Settings().calendar_feed_days_back == 30


def test_a_lone_person_s_turns_show_as_one_event_from_its_true_start(api_as, client, people, world):
    """One person in a rotation is on call without a break: one event, from the layer's
    start (before the window) on, with the same UID on every fetch."""
    _sid, url = a_rotation(api_as(people["bob"]), people, world["team"], "bob", name="Solo")
    events = feed_events(client, url)
    assert len(events) == 1
    assert events[0][1] == at("2025-12-29T08:00:00Z")
    assert events[0][2] > at("2027-03-02T00:00:00Z")


# ---------------------------------------------------------------- bad input


def spoil(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the value at a dotted `path` replaced ('layers.0.start')."""
    import copy

    spoilt = copy.deepcopy(body)
    target: Any = spoilt
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return spoilt


MISSING = object()


@dataclass
class Table:
    """One world for the bad-input tables, built once per database and reused while no
    test changed it: a refused request writes nothing, so it stays as built."""

    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, int]
    baseline: dict[str, str] = field(default_factory=dict)

    def send(self, who: str, method: str, path: str, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        url = "/api/v1" + path.format(**self.ids)
        return self.client.request(method, url, headers=headers, **kwargs)


_TABLES: dict[str, Table] = {}


@pytest.fixture(scope="module")
def table_client(shared_database, database_url) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, run_engine=False, base_url="http://testserver")
    with TestClient(create_app(settings, shared_database)) as client:
        yield client


def _build_table(database, client: TestClient) -> Table:
    _empty_tables(database)
    ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    with database.begin() as session:
        people = {}
        for key, role in [
            ("admin", Role.ADMIN),
            ("bob", Role.RESPONDER),
            ("cyd", Role.RESPONDER),
            ("mia", Role.RESPONDER),
            ("vic", Role.VIEWER),
        ]:
            # Without a password: these people only use API tokens.
            user = User(email=f"{key}@example.com", name=key.title(), role=role.value)
            session.add(user)
            session.flush()
            people[key], ids[key] = user, user.id
            tokens[key] = auth.create_token(session, user, "tests")[1]
        admin = people["admin"]
        members = [ids["bob"], ids["cyd"], ids["mia"]]
        ids["team"] = auth.create_team(
            session, admin, TeamCreate(name="Payments", member_ids=members)
        ).id
        ids["service"] = catalogue.create_service(
            session, admin, ServiceCreate(name="Checkout API", team_id=ids["team"])
        ).id
        layer = LayerIn.model_validate(fill(LAYER, ids))
        schedule = oncall.create_schedule(
            session,
            admin,
            ScheduleCreate(name="Payments primary", team_id=ids["team"], layers=[layer]),
        )
        ids["schedule"], ids["layer"] = schedule.id, schedule.layers[0].id
        policy = oncall.create_policy(
            session,
            admin,
            PolicyCreate.model_validate(
                fill({"name": "Payments", "team_id": "{team}", "levels": [LEVEL]}, ids)
            ),
        )
        ids["policy"], ids["level"] = policy.id, policy.levels[0].id
        ids["override"] = oncall.create_override(
            session, admin, schedule.id, OverrideCreate.model_validate(fill(OVERRIDE, ids))
        ).id
    return Table(client, tokens, ids, snapshot(database))


@pytest.fixture
def table(table_client, shared_database, clock) -> Table:
    found = _TABLES.get(shared_database.url)
    if (
        found is None
        or found.client is not table_client
        or snapshot(shared_database) != found.baseline
    ):
        found = _TABLES[shared_database.url] = _build_table(shared_database, table_client)
    return found


LAYER = {
    "participant_ids": ["{bob}"],
    "shift_unit": "days",
    "shift_length": 1,
    "handoff_time": "09:00",
    "start": "2026-03-02",
    "restrictions": [{"days": ["mon"], "start": "09:00", "end": "17:00"}],
}
OVERRIDE = {
    "user_id": "{cyd}",
    "starts_at": "2026-03-05T09:00:00Z",
    "ends_at": "2026-03-05T17:00:00Z",
}
LEVEL = {"delay_minutes": 5, "targets": [{"type": "user", "id": "{mia}"}]}
# (method, path, a body it would accept)
ENDPOINTS = {
    "create schedule": (
        "POST",
        "/schedules",
        {"name": "Night", "time_zone": "UTC", "team_id": "{team}", "layers": [LAYER]},
    ),
    "update schedule": ("PATCH", "/schedules/{schedule}", {"time_zone": "Asia/Tokyo"}),
    "add layer": ("POST", "/schedules/{schedule}/layers", LAYER),
    "update layer": ("PUT", "/schedules/{schedule}/layers/{layer}", LAYER),
    "add override": ("POST", "/schedules/{schedule}/overrides", OVERRIDE),
    "create policy": (
        "POST",
        "/escalation-policies",
        {"name": "Night", "team_id": "{team}", "levels": [LEVEL]},
    ),
    "update policy": ("PATCH", "/escalation-policies/{policy}", {"repeat_count": 1}),
    "add level": ("POST", "/escalation-policies/{policy}/levels", LEVEL),
    "update level": ("PUT", "/escalation-policies/{policy}/levels/{level}", LEVEL),
    "set service policy": (
        "PUT",
        "/services/{service}/escalation-policy",
        {"escalation_policy_id": "{policy}"},
    ),
}
# endpoint: [(where in the body, the bad value, status, code, the field named)]
BAD = {
    "create schedule": [
        ("colour", "red", 422, "unknown_field", "colour"),
        ("name", "", 422, "invalid", "name"),
        ("name", "PAYMENTS PRIMARY", 409, "conflict", "name"),
        ("time_zone", "Mars/Olympus_Mons", 422, "invalid", "time_zone"),
        ("time_zone", "UTC\x00", 422, "invalid", "time_zone"),
        ("team_id", UNKNOWN, 422, "invalid", "team_id"),
        ("layers.0.handoff_time", "25:00", 422, "invalid", "layers.0.handoff_time"),
        ("layers.0.participant_ids", [UNKNOWN], 422, "invalid", "layers.0.participant_ids"),
    ],
    "update schedule": [
        ("time_zone", "Europe/Nowhere", 422, "invalid", "time_zone"),
        ("team_id", UNKNOWN, 422, "invalid", "team_id"),
        ("layers", [], 422, "unknown_field", "layers"),
    ],
    "add layer": [
        ("shape", "round", 422, "unknown_field", "shape"),
        ("participant_ids", [], 422, "invalid", "participant_ids"),
        ("participant_ids", [UNKNOWN], 422, "invalid", "participant_ids"),
        ("participant_ids", ["{vic}"], 422, "invalid", "participant_ids"),
        ("participant_ids", [True], 422, "invalid", "participant_ids.0"),
        ("shift_unit", "months", 422, "invalid", "shift_unit"),
        ("shift_length", 0, 422, "invalid", "shift_length"),
        ("shift_length", 367, 422, "invalid", "shift_length"),
        ("shift_length", MISSING, 422, "missing", "shift_length"),
        ("handoff_time", "9am", 422, "invalid", "handoff_time"),
        ("handoff_time", "24:00", 422, "invalid", "handoff_time"),
        ("handoff_time", 900, 422, "invalid", "handoff_time"),
        ("start", "2026-02-30", 422, "invalid", "start"),
        ("start", "2026-03-02T09:00:00+01:00", 422, "invalid", "start"),
        ("start", "1900-01-01", 422, "invalid", "start"),
        ("start", "9999-12-31T23:59", 422, "invalid", "start"),
        ("start", "tomorrow", 422, "invalid", "start"),
        ("restrictions.0.days", ["funday"], 422, "invalid", "restrictions.0.days.0"),
        ("restrictions.0.days", [], 422, "invalid", "restrictions.0.days"),
        ("restrictions.0.start", "17:60", 422, "invalid", "restrictions.0.start"),
        ("restrictions.0.colour", "red", 422, "unknown_field", "restrictions.0.colour"),
    ],
    "update layer": [
        ("participant_ids", [UNKNOWN], 422, "invalid", "participant_ids"),
        ("shift_unit", "fortnights", 422, "invalid", "shift_unit"),
    ],
    "add override": [
        ("user_id", UNKNOWN, 422, "invalid", "user_id"),
        ("user_id", "{vic}", 422, "invalid", "user_id"),
        ("ends_at", "2026-03-05T09:00:00Z", 422, "invalid", "ends_at"),
        ("ends_at", "2026-03-05T08:00:00Z", 422, "invalid", "ends_at"),
        ("starts_at", "yesterday", 422, "invalid", "starts_at"),
        ("starts_at", "9999-12-31T23:00:00-05:00", 422, "invalid", "starts_at"),
        ("starts_at", "2026-02-01T09:00:00Z", None, None, None),  # fine: it ends in the future
        ("ends_at", MISSING, 422, "missing", "ends_at"),
        ("note", "x" * 20_001, 422, "invalid", "note"),
    ],
    "create policy": [
        ("repeat_count", 10, 422, "invalid", "repeat_count"),
        ("levels.0.delay_minutes", 0, 422, "invalid", "levels.0.delay_minutes"),
        ("levels.0.targets", [], 422, "invalid", "levels.0.targets"),
        ("levels.0.targets.0.type", "robot", 422, "invalid", "levels.0.targets.0.type"),
        ("levels.0.targets.0.id", UNKNOWN, 422, "invalid", "levels.0.targets"),
        ("levels.0.targets.0.id", "{vic}", 422, "invalid", "levels.0.targets"),
        ("name", "payments", 409, "conflict", "name"),
    ],
    "update policy": [
        ("repeat_count", -1, 422, "invalid", "repeat_count"),
        ("levels", [], 422, "unknown_field", "levels"),
    ],
    "add level": [
        ("delay_minutes", 1441, 422, "invalid", "delay_minutes"),
        ("targets", [{"type": "schedule", "id": UNKNOWN}], 422, "invalid", "targets"),
        ("targets", [{"type": "team", "id": UNKNOWN}], 422, "invalid", "targets"),
    ],
    "update level": [("targets", [{"type": "user", "id": 0}], 422, "invalid", "targets.0.id")],
    "set service policy": [
        ("escalation_policy_id", UNKNOWN, 422, "invalid", "escalation_policy_id"),
        ("escalation_policy_id", "abc", 422, "invalid", "escalation_policy_id"),
        ("escalation_policy_id", MISSING, 422, "missing", "escalation_policy_id"),
    ],
}
CASES = [
    pytest.param(endpoint, *case, id=f"{endpoint}-{case[0]}-{n}")
    for endpoint, cases in BAD.items()
    for n, case in enumerate(cases)
]


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if (
        isinstance(value, str)
        and value.startswith("{")
        and value.endswith("}")
        and value[1:-1] in ids
    ):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("endpoint", "where", "value", "status", "code", "field"), CASES)
def test_bad_input_is_refused_in_the_one_error_shape_and_writes_nothing(
    table, endpoint, where, value, status, code, field
):
    method, path, body = ENDPOINTS[endpoint]
    response = table.send("bob", method, path, json=fill(spoil(body, where, value), table.ids))
    if status is None:
        assert response.status_code < 300, response.text
        return
    assert_error(response, status, code, field)
    assert snapshot(table.client.app.state.db) == table.baseline


def test_the_good_bodies_of_the_bad_input_table_are_accepted(table):
    """So each refusal above is for the spoilt part alone."""
    for endpoint in ENDPOINTS:
        method, path, body = ENDPOINTS[endpoint]
        response = table.send("bob", method, path, json=fill(body, table.ids))
        assert response.status_code < 300, (endpoint, response.text)


# (method, path with {} for the unknown id, the field named)
UNKNOWN_IDS = [
    ("GET", "/schedules/{}", "schedule_id"),
    ("PATCH", "/schedules/{}", "schedule_id"),
    ("DELETE", "/schedules/{}", "schedule_id"),
    ("POST", "/schedules/{}/layers", "schedule_id"),
    ("PUT", "/schedules/{schedule}/layers/{}", "layer_id"),
    ("DELETE", "/schedules/{schedule}/layers/{}", "layer_id"),
    ("GET", "/schedules/{}/shifts", "schedule_id"),
    ("GET", "/schedules/{}/on-call", "schedule_id"),
    ("GET", "/schedules/{}/overrides", "schedule_id"),
    ("POST", "/schedules/{}/overrides", "schedule_id"),
    ("DELETE", "/schedules/{schedule}/overrides/{}", "override_id"),
    ("POST", "/schedules/{}/calendar-feed", "schedule_id"),
    ("GET", "/escalation-policies/{}", "policy_id"),
    ("PATCH", "/escalation-policies/{}", "policy_id"),
    ("DELETE", "/escalation-policies/{}", "policy_id"),
    ("POST", "/escalation-policies/{}/levels", "policy_id"),
    ("PUT", "/escalation-policies/{policy}/levels/{}", "level_id"),
    ("DELETE", "/escalation-policies/{policy}/levels/{}", "level_id"),
    ("GET", "/services/{}/escalation-policy", "service_id"),
    ("PUT", "/services/{}/escalation-policy", "service_id"),
]
GOOD_BODIES = {
    ("PATCH", "/schedules/{}"): {"name": "x"},
    ("POST", "/schedules/{}/layers"): LAYER,
    ("PUT", "/schedules/{schedule}/layers/{}"): LAYER,
    ("POST", "/schedules/{}/overrides"): OVERRIDE,
    ("PATCH", "/escalation-policies/{}"): {"name": "x"},
    ("POST", "/escalation-policies/{}/levels"): LEVEL,
    ("PUT", "/escalation-policies/{policy}/levels/{}"): LEVEL,
    ("PUT", "/services/{}/escalation-policy"): {"escalation_policy_id": None},
}


@pytest.mark.parametrize(
    ("method", "path", "field"), UNKNOWN_IDS, ids=[f"{m} {p}" for m, p, _ in UNKNOWN_IDS]
)
def test_an_unknown_id_in_the_path_is_a_404_and_a_bad_one_a_422(table, method, path, field):
    body = fill(GOOD_BODIES.get((method, path)), table.ids)
    kwargs = {} if body is None else {"json": body}
    for bad, status, code in [
        (str(UNKNOWN), 404, "not_found"),
        ("0", 422, "invalid"),
        ("abc", 422, "invalid"),
        (str(2**63), 422, "invalid"),
    ]:
        response = table.send("admin", method, path.replace("{}", bad), **kwargs)
        assert_error(response, status, code, field)
    assert snapshot(table.client.app.state.db) == table.baseline


QUERIES = [
    ("/schedules/{schedule}/shifts", {"start": "soon"}, "start"),
    (
        "/schedules/{schedule}/shifts",
        {"start": "2026-03-05T00:00:00Z", "end": "2026-03-04T00:00:00Z"},
        "end",
    ),
    (
        "/schedules/{schedule}/shifts",
        {"start": "2026-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"},
        "end",
    ),
    ("/schedules/{schedule}/shifts", {"end": "1999-12-31T00:00:00Z"}, "end"),
    ("/schedules/{schedule}/shifts", {"colour": "red"}, "colour"),
    ("/schedules/{schedule}/on-call", {"at": "noon"}, "at"),
    ("/schedules/{schedule}/on-call", {"at": "9999-12-31T23:00:00-05:00"}, "at"),
    ("/oncall/now", {"at": "2026-13-01T00:00:00Z"}, "at"),
    ("/oncall/mine", {"start": "\x00"}, "start"),
    ("/oncall/mine", {"start": "2026-03-01T00:00:00Z", "end": "2028-03-01T00:00:00Z"}, "end"),
]


@pytest.mark.parametrize(
    ("path", "params", "field"), QUERIES, ids=[f"{p}?{q}" for p, q, _ in QUERIES]
)
def test_a_bad_query_is_a_422_naming_the_parameter(table, path, params, field):
    response = table.send("vic", "GET", path, params=params)
    code = "unknown_field" if field == "colour" else "invalid"
    assert_error(response, 422, code, field)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli(monkeypatch, database_url):
    from typer.testing import CliRunner

    from tocsin.cli import app as tocsin
    from tocsin.config import get_settings

    monkeypatch.setenv("TOCSIN_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(tocsin, list(args))
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    yield run
    get_settings.cache_clear()


def test_the_command_line_says_who_is_on_call_and_lists_shifts(
    cli, primary, policy, world, api_as, people
):
    api_as(people["admin"]).put(
        f"/api/v1/services/{world['service']}/escalation-policy",
        json={"escalation_policy_id": policy["id"]},
    )
    now = cli("oncall", "now")
    assert "Payments primary         Dee Dover              Mon 2026-03-02 17:00 CET" in now
    assert "Checkout API             Dee Dover (on call in Payments primary)" in now
    assert "Search                   nobody: no escalation policy" in now
    one = cli("oncall", "now", "--schedule", str(primary["id"]), "--json")
    assert '"name": "Dee Dover"' in one and "Checkout API" not in one
    shifts = cli("oncall", "shifts", str(primary["id"]), "--days", "2")
    assert shifts.splitlines() == [
        "Payments primary (Europe/Berlin), the next 2 days:",
        "  Mon 2026-03-02 10:00 CET  ->  Mon 2026-03-02 17:00 CET  Dee Dover  [Office hours]",
        "  Mon 2026-03-02 17:00 CET  ->  Tue 2026-03-03 09:00 CET  Bob Builder  [Weekly]",
        "  Tue 2026-03-03 09:00 CET  ->  Tue 2026-03-03 17:00 CET  Dee Dover  [Office hours]",
        "  Tue 2026-03-03 17:00 CET  ->  Wed 2026-03-04 09:00 CET  Bob Builder  [Weekly]",
        "  Wed 2026-03-04 09:00 CET  ->  Wed 2026-03-04 10:00 CET  Dee Dover  [Office hours]",
    ]
    assert "No schedule with id 999999" in cli("oncall", "shifts", "999999", code=1)
