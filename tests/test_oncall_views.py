"""The on-call pages through TestClient: what a person sees, and what their forms do."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote_plus, urlsplit

import icalendar
import pytest
from fastapi.testclient import TestClient

from tests.test_bad_input import snapshot
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate, UserUpdate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ServiceCreate
from tocsin.deps import SESSION_COOKIE
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import LayerIn, ScheduleCreate


@dataclass
class Web:
    """A logged-in browser: its client, who it is, and the CSRF token its forms carry."""

    client: TestClient
    user: User
    csrf: str

    def get(self, url: str, **kwargs):
        return self.client.get(url, headers={"accept": "text/html"}, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: str | None = None, **kwargs):
        form = [("csrf_token", self.csrf if csrf is None else csrf)]
        for name, value in (data or {}).items():
            form += [(name, v) for v in (value if isinstance(value, list) else [value])]
        body = "&".join(f"{quote_plus(k)}={quote_plus(str(v))}" for k, v in form)
        headers = {"accept": "text/html", "content-type": "application/x-www-form-urlencoded"}
        return self.client.post(url, content=body, headers=headers, **kwargs)

    def submit(self, url: str, data: dict | None = None) -> tuple[str, str]:
        """Posts a form, follows the redirect; (flash, page)."""
        response = self.post(url, data, follow_redirects=True)
        assert response.status_code == 200, response.text
        return flash_text(response.text) or "", response.text


class Page(HTMLParser):
    """What a person can see and do: forms (their actions), links, and input values by id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.actions: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.values: dict[str, str] = {}
        self.selected: dict[str, list[str]] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.actions.append(a.get("action") or "")
        if tag == "a":
            self.links.append(a)
        if tag == "input" and a.get("id"):
            self.values[a["id"]] = a.get("value") or ""
        if tag == "select":
            self._select = a.get("id")
        if tag == "option" and self._select and "selected" in a:
            self.selected.setdefault(self._select, []).append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def flash_text(html: str) -> str | None:
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', html, re.S)
    return f"{found.group(1)}|{unescape(found.group(2).strip())}" if found else None


def texts(html: str, css_class: str) -> list[str]:
    """The visible text of every element with this class (tags stripped, spaces squeezed)."""
    pattern = rf'<(\w+)[^>]*class="[^"]*\b{re.escape(css_class)}\b[^"]*"[^>]*>(.*?)</\1>'
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", m[1])).split())
        for m in re.findall(pattern, html, re.S)
    ]


@pytest.fixture
def web_as(app, db) -> Iterator[Callable[[User], Web]]:
    clients: list[TestClient] = []

    def as_user(user: User) -> Web:
        with db.begin() as session:
            cookie, login = auth.start_login(session, session.get(User, user.id), 1)
            csrf = login.csrf_token
        client = TestClient(app, cookies={SESSION_COOKIE: cookie})
        clients.append(client)
        return Web(client, user, csrf)

    yield as_user
    for client in clients:
        client.close()


@dataclass
class Team:
    lead: User
    bob: User
    cyd: User
    outsider: User
    viewer: User
    team_id: int
    service_id: int


@pytest.fixture
def team(db, make_user, admin, clock) -> Team:
    lead = make_user(Role.RESPONDER, name="Lea Lead")
    bob = make_user(Role.RESPONDER, name="Bob Builder")
    cyd = make_user(Role.RESPONDER, name="Cyd Carter")
    outsider = make_user(Role.RESPONDER, name="Otto Outsider")
    viewer = make_user(Role.VIEWER, name="Vic Viewer")
    # Lea works in Berlin: the pages show her times there.
    with db.begin() as session:
        auth.update_user(session, admin, lead.id, UserUpdate(time_zone="Europe/Berlin"))
        members = [lead.id, bob.id, cyd.id]
        team_id = auth.create_team(
            session, admin, TeamCreate(name="Payments", member_ids=members)
        ).id
        service_id = catalogue.create_service(
            session, admin, ServiceCreate(name="Checkout API", team_id=team_id)
        ).id
    with db.begin() as session:
        lead = session.get(User, lead.id)
    return Team(lead, bob, cyd, outsider, viewer, team_id, service_id)


def _schedule(db, team: Team) -> int:
    """A weekly rotation of Bob and Cyd in Berlin, handing off Mondays 09:00."""
    layer = LayerIn(
        name="Weekly",
        participant_ids=[team.bob.id, team.cyd.id],
        shift_unit="weeks",
        shift_length=1,
        handoff_time="09:00",
        start="2026-03-02",
    )
    body = ScheduleCreate(
        name="Payments primary", time_zone="Europe/Berlin", team_id=team.team_id, layers=[layer]
    )
    with db.begin() as session:
        return oncall.create_schedule(session, team.lead, body).id


# ---------------------------------------------------------------- schedules


def test_the_team_lead_creates_a_schedule_and_its_layers_with_forms(web_as, team):
    lea = web_as(team.lead)
    flash, page = lea.submit(
        "/oncall/schedules",
        {"name": "Payments primary", "time_zone": "Europe/Berlin", "team_id": team.team_id},
    )
    assert flash.startswith("ok|Payments primary is created.")
    schedule_id = int(re.search(r'action="/oncall/schedules/(\d+)/layers"', page)[1])
    assert "No layers yet: nobody is on call." in page
    # The layer form says what a handoff does on a daylight-saving night.
    assert "02:30 becomes 03:30 when they spring forward" in page
    assert "a time that happens twice (when they fall back) happens the first time" in page
    assert "a repeated one the first time" in lea.get("/oncall/schedules").text
    flash, page = lea.submit(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "name": "Weekly",
            "participant_ids": [str(team.bob.id), "", str(team.cyd.id), ""],
            "shift_length": "1",
            "shift_unit": "weeks",
            "handoff_time": "09:00",
            "start_date": "2026-03-02",
            "start_time": "",
        },
    )
    assert flash == "ok|Weekly is added on top."
    flash, page = lea.submit(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "name": "Office hours",
            "participant_ids": [str(team.lead.id)],
            "shift_length": "1",
            "shift_unit": "days",
            "handoff_time": "09:00",
            "start_date": "2026-03-02",
            "r0_days": ["mon", "tue", "wed", "thu", "fri"],
            "r0_start": "09:00",
            "r0_end": "17:00",
            "r1_start": "",
            "r1_end": "",
        },
    )
    assert flash == "ok|Office hours is added on top."
    assert texts(page, "layer-name") == ["Office hours", "Weekly"]
    facts = " ".join(texts(page, "layer-facts"))
    assert "Turns Bob Builder → Cyd Carter" in facts
    assert "Only Mon-Fri 09:00-17:00" in facts
    # Monday 10:00 in Berlin: Lea, in office hours, until 17:00 her time.
    assert texts(page, "oncall-now-who") == ["Lea Lead"]
    assert "until Mon Mar 02, 17:00" in " ".join(texts(page, "oncall-now-main"))
    # The timeline: 14 days in Lea's zone, with Bob's and Lea's turns.
    assert len(texts(page, "day-label")) == 15  # the hour scale, then 14 days
    assert set(texts(page, "legend")[0].split()) >= {"Lea", "Bob", "Builder"}


def test_a_refused_new_schedule_keeps_what_was_typed(web_as, team):
    """An explorer's typo in the time zone cleared the name and reset the zone to UTC."""
    lea = web_as(team.lead)
    typed = {
        "name": "Payments primary",
        "time_zone": "Europe/Berlinn",
        "team_id": team.team_id,
        "description": "Card and bank payments",
    }
    refused = lea.post("/oncall/schedules", typed)
    assert refused.status_code == 422
    page = Page(refused.text)
    assert page.values["s-name"] == "Payments primary"
    assert page.values["s-zone"] == "Europe/Berlinn"
    assert "Card and bank payments</textarea>" in refused.text
    assert 'role="alert"' in refused.text and "Time zone" in refused.text


def test_a_layer_form_with_a_mistake_says_what_is_wrong_in_words(web_as, team, db):
    lea = web_as(team.lead)
    schedule_id = _schedule(db, team)
    before = snapshot(db)
    flash, _page = lea.submit(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "participant_ids": ["", ""],
            "shift_length": "1",
            "shift_unit": "days",
            "handoff_time": "09:00",
            "start_date": "2026-03-02",
        },
    )
    assert flash.startswith("error|People in the rotation")
    flash, _page = lea.submit(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "participant_ids": [str(team.viewer.id)],
            "shift_length": "1",
            "shift_unit": "days",
            "start_date": "2026-03-02",
        },
    )
    assert flash == "error|Vic Viewer is a viewer; only responders and admins can be on call."
    flash, _page = lea.submit(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "participant_ids": [str(team.bob.id)],
            "shift_length": "0",
            "shift_unit": "days",
            "start_date": "x",
        },
    )
    assert flash.startswith("error|Shift length")
    assert snapshot(db) == before


def test_clicking_a_shift_fills_in_the_override_form_and_adding_it_covers_the_shift(
    web_as, team, db
):
    lea = web_as(team.lead)
    schedule_id = _schedule(db, team)
    page = Page(lea.get(f"/oncall/schedules/{schedule_id}").text)
    # The first shift in the timeline is Bob's week, from Monday 09:00 Berlin.
    cover = next(a["href"] for a in page.links if "part" in (a.get("class") or ""))
    assert cover.startswith("?weeks=2&cover=")
    filled = Page(lea.get(f"/oncall/schedules/{schedule_id}{cover.split('#')[0]}").text)
    assert filled.values["o-start"] == "2026-03-02T09:00"
    assert filled.values["o-end"] == "2026-03-09T09:00"
    assert filled.selected["o-user"] == [str(team.lead.id)]  # "I take it", not Bob himself
    flash, html = lea.submit(
        f"/oncall/schedules/{schedule_id}/overrides",
        {
            "user_id": str(team.cyd.id),
            "starts_at": "2026-03-02T09:00",
            "ends_at": "2026-03-03T09:00",
            "note": "Bob is ill",
        },
    )
    assert flash == "ok|Cyd Carter is on call for that time."
    assert texts(html, "oncall-now-who") == ["Cyd Carter"]
    assert "Bob is ill" in html
    with db.begin() as session:
        [override] = oncall.list_overrides(session, schedule_id)
        # Asked from 09:00 Berlin (08:00 UTC), it starts now: the past stays as it was.
        assert override.starts_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
        assert override.ends_at == datetime(2026, 3, 3, 8, tzinfo=UTC)
    # A backwards override is refused with words, and nothing is written.
    before = snapshot(db)
    flash, _ = lea.submit(
        f"/oncall/schedules/{schedule_id}/overrides",
        {
            "user_id": str(team.bob.id),
            "starts_at": "2026-03-04T09:00",
            "ends_at": "2026-03-04T08:00",
        },
    )
    assert flash == "error|Ends: must be after the start"
    assert snapshot(db) == before


def test_people_outside_the_team_read_the_schedule_but_get_no_forms(web_as, team, db):
    schedule_id = _schedule(db, team)
    for person in (team.viewer, team.outsider):
        web = web_as(person)
        page = web.get(f"/oncall/schedules/{schedule_id}")
        assert page.status_code == 200
        assert Page(page.text).actions == ["/logout"]
        assert "You can look; only admins and members of Payments can change" in page.text
        flash, _ = web.submit(
            f"/oncall/schedules/{schedule_id}/overrides",
            {
                "user_id": str(person.id),
                "starts_at": "2026-03-04T09:00",
                "ends_at": "2026-03-04T10:00",
            },
        )
        assert flash.startswith("error|")


def test_a_form_without_its_csrf_token_is_refused(web_as, team, db):
    schedule_id = _schedule(db, team)
    response = web_as(team.lead).post(f"/oncall/schedules/{schedule_id}/layers/1/delete", csrf="")
    assert response.status_code == 403


def test_the_schedule_feed_link_is_shown_once(web_as, team, db, client):
    lea = web_as(team.lead)
    schedule_id = _schedule(db, team)
    shown = lea.post(f"/oncall/schedules/{schedule_id}/calendar-feed")
    assert shown.status_code == 200
    [url] = texts(shown.text, "feed-url")
    assert "Copy it now." in shown.text
    again = lea.get(f"/oncall/schedules/{schedule_id}").text
    assert url not in again and "has a calendar feed" in again
    parts = urlsplit(url)
    feed = icalendar.Calendar.from_ical(client.get(f"{parts.path}?{parts.query}").content)
    assert {str(e["summary"]) for e in feed.walk("VEVENT")} == {
        "On call: Bob Builder",
        "On call: Cyd Carter",
    }


# ---------------------------------------------------------------- policies and who is on call


def test_a_policy_is_built_with_forms_and_the_service_shows_its_on_call(web_as, team, db):
    lea = web_as(team.lead)
    schedule_id = _schedule(db, team)
    flash, page = lea.submit(
        "/oncall/policies", {"name": "Payments", "team_id": team.team_id, "repeat_count": "2"}
    )
    assert flash.startswith("ok|Payments is created.")
    policy_id = int(re.search(r'action="/oncall/policies/(\d+)/levels"', page)[1])
    flash, page = lea.submit(
        f"/oncall/policies/{policy_id}/levels",
        {"delay_minutes": "5", "schedule_ids": [str(schedule_id)]},
    )
    assert flash == "ok|Level 1 is added."
    flash, page = lea.submit(
        f"/oncall/policies/{policy_id}/levels",
        {"delay_minutes": "10", "user_ids": [str(team.lead.id)], "team_ids": [str(team.team_id)]},
    )
    assert flash == "ok|Level 2 is added."
    levels = texts(page, "level-who")
    assert levels[0] == "On call in Payments primary now: Bob Builder"
    assert levels[1] == "Lea Lead, Team Payments now: Lea Lead, Bob Builder, Cyd Carter"
    assert "After 10 min: start again from level 1 (2 more times)" in page
    flash, _ = lea.submit(f"/oncall/policies/{policy_id}/levels", {"delay_minutes": "5"})
    assert flash.startswith("error|Who to page")
    flash, page = lea.submit(
        f"/oncall/policies/{policy_id}/services", {"service_id": str(team.service_id)}
    )
    assert flash == "ok|Checkout API now pages through Payments."
    now = web_as(team.viewer).get("/oncall").text
    assert texts(now, "oncall-name")[0] == "Checkout API"
    assert texts(now, "oncall-person") == ["Bob Builder"]
    assert "on call in Payments primary · until Mon Mar 09, 08:00" in " ".join(
        texts(now, "oncall-people")
    )


def test_a_service_gets_its_policy_on_the_now_page_and_loses_it(web_as, team, db):
    lea = web_as(team.lead)
    with db.begin() as session:
        from tocsin.oncall.schemas import PolicyCreate

        policy = oncall.create_policy(
            session, team.lead, PolicyCreate(name="Payments", team_id=team.team_id)
        )
    page = lea.get("/oncall").text
    assert "Alerts page nobody" in page
    assert f"/oncall/services/{team.service_id}/escalation-policy" in Page(page).actions
    flash, page = lea.submit(
        f"/oncall/services/{team.service_id}/escalation-policy",
        {"escalation_policy_id": str(policy.id), "back": "/oncall"},
    )
    assert flash == "ok|Checkout API now pages through Payments."
    assert "Nobody on call" in page  # the policy has no levels yet
    flash, _ = lea.submit(
        f"/oncall/services/{team.service_id}/escalation-policy",
        {"escalation_policy_id": "", "back": "https://evil.example/"},
    )
    assert flash == "ok|Checkout API has no escalation policy now: its alerts page nobody."
    # An outsider sees no form, and a forged one is refused.
    outsider = web_as(team.outsider)
    assert Page(outsider.get("/oncall").text).actions == ["/logout"]
    flash, _ = outsider.submit(
        f"/oncall/services/{team.service_id}/escalation-policy",
        {"escalation_policy_id": str(policy.id)},
    )
    assert flash.startswith("error|Only admins and members of Payments")


# ---------------------------------------------------------------- my on-call


def test_my_on_call_lists_my_coming_shifts_and_shows_my_feed_link_once(
    web_as, team, db, client, clock
):
    _schedule(db, team)
    bob = web_as(team.bob)
    page = bob.get("/oncall/mine").text
    whens = texts(page, "shift-when")
    # Bob's week is now (from Monday 09:00 Berlin, 08:00 UTC); the next is two weeks on.
    assert whens[0] == "Monday March 02, 08:00 → until Mon Mar 09, 08:00 · 7d 0h"
    assert "on call now" in page
    # The week after next, and the one two weeks later, shown whole though it ends past
    # the four weeks (and after the clocks changed: 09:00 in Berlin is 07:00 UTC then).
    assert whens[1:] == [
        "Monday March 16, 08:00 → until Mon Mar 23, 08:00 · 7d 0h",
        "Monday March 30, 07:00 → until Mon Apr 06, 07:00 · 7d 0h",
    ]
    shown = bob.post("/oncall/mine/calendar-feed")
    [url] = texts(shown.text, "feed-url")
    assert f"/oncall/users/{team.bob.id}/calendar.ics?token=ics_" in url
    assert url not in bob.get("/oncall/mine").text
    parts = urlsplit(url)
    feed = icalendar.Calendar.from_ical(client.get(f"{parts.path}?{parts.query}").content)
    assert {str(e["summary"]) for e in feed.walk("VEVENT")} == {"On call: Payments primary"}
    # A new link stops the old one.
    bob.post("/oncall/mine/calendar-feed")
    assert client.get(f"{parts.path}?{parts.query}").status_code == 404


def test_every_on_call_page_answers_and_names_itself_in_the_tabs(web_as, team, db):
    schedule_id = _schedule(db, team)
    viewer = web_as(team.viewer)
    for path, current in [
        ("/oncall", "Now"),
        ("/oncall/mine", "My on-call"),
        ("/oncall/schedules", "Schedules"),
        (f"/oncall/schedules/{schedule_id}?weeks=4", "Schedules"),
        ("/oncall/policies", "Policies"),
    ]:
        response = viewer.get(path)
        assert response.status_code == 200, path
        assert re.search(rf'aria-current="page">{current}</a>', response.text), path
        assert '<a href="/oncall" aria-current="page">On-call</a>' in response.text
    four = viewer.get(f"/oncall/schedules/{schedule_id}?weeks=4").text
    assert len(texts(four, "day-label")) == 29
    assert viewer.get("/oncall/schedules/999999").status_code == 404
    assert viewer.get("/oncall/policies/999999").status_code == 404
