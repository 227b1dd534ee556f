"""The incident room: people talk during an incident, everyone who may see it reads along,
and the video call is one tap away."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import assert_error, browser_login
from tocsin.auth.models import User
from tocsin.comms import room
from tocsin.comms.models import RoomMessage
from tocsin.comms.schemas import MessagePost
from tocsin.incidents import service as incidents
from tocsin.incidents.models import IncidentParticipant
from tocsin.incidents.schemas import IncidentCreate


@pytest.fixture
def incident_key(db, clock, responder) -> str:
    with db.begin() as session:
        data = IncidentCreate(summary="Checkout fails for EU customers", severity="SEV2")
        return incidents.declare_incident(session, session.get(User, responder.id), data).key


def say(db, user: User, key: str, body: str) -> int:
    with db.begin() as session:
        _incident, message = room.post_message(
            session, session.get(User, user.id), key, MessagePost(body=body)
        )
        return message.id


def bodies(messages: list[dict]) -> list[str]:
    return [m["body"] for m in messages]


def test_responders_talk_and_read_along_oldest_first(
    api_as, incident_key, responder, make_user, clock
):
    colleague = make_user(name="Tom Techlead")
    mine, theirs = api_as(responder), api_as(colleague)

    first = mine.post(
        f"/api/v1/incidents/{incident_key}/room/messages",
        json={"body": "  Error rate is 40% since 09:00; looking at the deploy.  "},
    )
    assert first.status_code == 201, first.text
    assert first.json()["body"] == "Error rate is 40% since 09:00; looking at the deploy."
    assert first.json()["author"]["name"] == responder.name
    assert first.json()["incident_key"] == incident_key
    clock.advance(minutes=2)
    second = theirs.post(
        f"/api/v1/incidents/{incident_key.lower()}/room/messages",
        json={"body": "Deploy 4512 touched payments.\nRolling back."},
    )
    assert second.status_code == 201, second.text
    assert second.json()["incident_key"] == incident_key

    listed = mine.get(f"/api/v1/incidents/{incident_key}/room/messages").json()
    assert bodies(listed) == [
        "Error rate is 40% since 09:00; looking at the deploy.",
        "Deploy 4512 touched payments.\nRolling back.",
    ]
    assert [m["author"]["name"] for m in listed] == [responder.name, colleague.name]
    assert listed[1]["posted_at"].startswith("2026-03-02T09:02")


def test_talking_makes_you_a_participant(db, api_as, incident_key, make_user):
    colleague = make_user(name="Tom Techlead")
    api_as(colleague).post(
        f"/api/v1/incidents/{incident_key}/room/messages", json={"body": "On it."}
    )
    with db.begin() as session:
        joined = session.scalars(select(IncidentParticipant.user_id)).all()
    assert colleague.id in joined


def test_a_poll_gets_what_came_after_and_the_last_half_minute_again(
    db, api_as, incident_key, responder, clock
):
    """A reader skips ids it has: the overlap catches a message that committed late."""
    old = say(db, responder, incident_key, "first")
    clock.advance(minutes=5)
    seen = say(db, responder, incident_key, "second")
    clock.advance(seconds=10)
    new = say(db, responder, incident_key, "third")
    api = api_as(responder)

    polled = api.get(f"/api/v1/incidents/{incident_key}/room/messages?after={seen}").json()
    assert [m["id"] for m in polled] == [seen, new]  # "second" is 10 s old: sent again
    clock.advance(minutes=1)
    polled = api.get(f"/api/v1/incidents/{incident_key}/room/messages?after={seen}").json()
    assert [m["id"] for m in polled] == [new]
    polled = api.get(f"/api/v1/incidents/{incident_key}/room/messages?after={new}").json()
    assert polled == []
    assert old < seen < new


def test_without_after_the_newest_messages_come_oldest_first(db, api_as, incident_key, responder):
    for n in range(5):
        say(db, responder, incident_key, f"line {n}")
    listed = api_as(responder).get(f"/api/v1/incidents/{incident_key}/room/messages?limit=3")
    assert bodies(listed.json()) == ["line 2", "line 3", "line 4"]


def test_messages_stay_in_their_own_room(db, api_as, incident_key, responder):
    with db.begin() as session:
        data = IncidentCreate(summary="Search is slow", severity="SEV3")
        other = incidents.declare_incident(session, session.get(User, responder.id), data).key
    say(db, responder, incident_key, "about checkout")
    say(db, responder, other, "about search")
    api = api_as(responder)
    assert bodies(api.get(f"/api/v1/incidents/{other}/room/messages").json()) == ["about search"]
    checkout_message = api.get(f"/api/v1/incidents/{incident_key}/room/messages").json()[0]
    assert_error(
        api.post(f"/api/v1/incidents/{other}/room/messages/{checkout_message['id']}/timeline"),
        404,
        field="message_id",
    )


def test_viewers_read_the_room_but_do_not_talk(db, api_as, incident_key, responder, viewer):
    say(db, responder, incident_key, "Rolling back.")
    api = api_as(viewer)
    assert bodies(api.get(f"/api/v1/incidents/{incident_key}/room/messages").json()) == [
        "Rolling back."
    ]
    assert_error(
        api.post(f"/api/v1/incidents/{incident_key}/room/messages", json={"body": "hi"}), 403
    )
    with db.begin() as session:
        assert session.scalar(select(RoomMessage).where(RoomMessage.body == "hi")) is None


def test_a_restricted_room_is_closed_to_outsiders(db, api_as, responder, make_user):
    outsider = make_user(name="Otto Outsider")
    with db.begin() as session:
        data = IncidentCreate(summary="Leaked keys", severity="SEV1", restricted=True)
        key = incidents.declare_incident(session, session.get(User, responder.id), data).key
    say(db, responder, key, "Rotate every key today.")
    api = api_as(outsider)
    assert_error(api.get(f"/api/v1/incidents/{key}/room/messages"), 404)
    assert_error(api.post(f"/api/v1/incidents/{key}/room/messages", json={"body": "?"}), 404)
    page = api.get(f"/incidents/{key}/room")
    assert page.status_code == 404
    assert "Rotate every key" not in page.text


def test_the_room_does_not_need_anonymous_readers(client, incident_key):
    assert_error(client.get(f"/api/v1/incidents/{incident_key}/room/messages"), 401)
    assert client.get(f"/incidents/{incident_key}/room", follow_redirects=False).status_code in (
        303,
        401,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   \n "}, "body"),
        ({"body": "x" * 4001}, "body"),
        ({"body": "nul \u0000 here"}, "body"),
        ({"body": 42}, "body"),
        ({}, "body"),
        ({"body": "hi", "author_id": 1}, "author_id"),
    ],
)
def test_a_bad_message_is_refused_and_nothing_is_written(
    db, api_as, incident_key, responder, body, field
):
    response = api_as(responder).post(f"/api/v1/incidents/{incident_key}/room/messages", json=body)
    assert_error(response, 422, field=field)
    with db.begin() as session:
        assert session.scalar(select(RoomMessage)) is None


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=501", "after=1e99"])
def test_a_bad_poll_is_a_clear_4xx(api_as, incident_key, responder, query):
    response = api_as(responder).get(f"/api/v1/incidents/{incident_key}/room/messages?{query}")
    assert_error(response, 422)


def test_a_message_goes_to_the_timeline_naming_who_said_it(db, api_as, incident_key, make_user):
    tom = make_user(name="Tom Techlead")
    cora = make_user(name="Cora Comms")
    said = say(db, tom, incident_key, "Root cause: the pool size went to 5 in deploy 4512.")
    kept = api_as(cora).post(f"/api/v1/incidents/{incident_key}/room/messages/{said}/timeline")
    assert kept.status_code == 201, kept.text
    assert kept.json()["message"] == (
        "Tom Techlead in the room at 09:00 UTC: Root cause: the pool size went to 5 in deploy 4512."
    )
    assert kept.json()["actor"]["name"] == "Cora Comms"
    timeline = api_as(cora).get(f"/api/v1/incidents/{incident_key}/timeline").json()
    assert timeline[0]["message"] == kept.json()["message"]


def test_the_video_call_link_is_set_on_the_timeline_and_only_as_a_web_address(
    api_as, incident_key, responder
):
    api = api_as(responder)
    changed = api.patch(
        f"/api/v1/incidents/{incident_key}", json={"video_url": "https://meet.example.com/inc-1"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["video_url"] == "https://meet.example.com/inc-1"
    timeline = api.get(f"/api/v1/incidents/{incident_key}/timeline").json()
    assert timeline[0]["message"] == "Video call: https://meet.example.com/inc-1"
    for bad in ("javascript:alert(1)", "meet.example.com/x", "https://", "x" * 501):
        assert_error(
            api.patch(f"/api/v1/incidents/{incident_key}", json={"video_url": bad}),
            422,
            field="video_url",
        )
    removed = api.patch(f"/api/v1/incidents/{incident_key}", json={"video_url": ""})
    assert removed.json()["video_url"] == ""
    timeline = api.get(f"/api/v1/incidents/{incident_key}/timeline").json()
    assert timeline[0]["message"] == "Video call link removed"


def test_the_room_page_works_without_script(app, db, incident_key, responder, clock):
    from fastapi.testclient import TestClient

    with TestClient(app) as browser:
        token = browser_login(browser, responder)
        incident_page = browser.get(f"/incidents/{incident_key}")
        assert f'href="/incidents/{incident_key}/room"' in incident_page.text

        sent = browser.post(
            f"/incidents/{incident_key}/room",
            data={"body": "<b>Rolling back</b> deploy 4512", "csrf_token": token},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        assert sent.headers["location"].startswith(f"/incidents/{incident_key}/room#message-")
        page = browser.get(f"/incidents/{incident_key}/room")
        assert "&lt;b&gt;Rolling back&lt;/b&gt; deploy 4512" in page.text
        assert "<b>Rolling back</b>" not in page.text

        refused = browser.post(
            f"/incidents/{incident_key}/room",
            data={"body": "  ", "csrf_token": token},
        )
        assert refused.status_code == 200  # back in the room, saying why
        flash = refused.text.split('<div class="flash flash-error" role="alert">')[1]
        assert flash.split("</div>")[0].strip() == "Write something first."

        too_long = browser.post(
            f"/incidents/{incident_key}/room", data={"body": "x" * 4001, "csrf_token": token}
        )
        assert "A message is at most 4,000 characters." in too_long.text

        no_token = browser.post(f"/incidents/{incident_key}/room", data={"body": "hi"})
        assert no_token.status_code == 403

        browser.post(
            f"/incidents/{incident_key}/room/video",
            data={"video_url": "https://meet.example.com/inc-1", "csrf_token": token},
        )
        page = browser.get(f"/incidents/{incident_key}")
        assert 'href="https://meet.example.com/inc-1"' in page.text
        assert "Join the video call" in page.text
        with db.begin() as session:
            assert session.scalar(select(RoomMessage.body)) == "<b>Rolling back</b> deploy 4512"
