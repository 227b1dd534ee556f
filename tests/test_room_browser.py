"""The incident room in a real Chromium: the incident manager at a desk and the tech lead
on a phone talk without reloading, keep a line on the timeline, and share a video call.
Screenshots of the room (phone and desktop) go to test-artifacts/."""

from __future__ import annotations

import re

from tests.browsing import (  # noqa: F401  (the *_fixture names are fixtures)
    BROWSER_MARKS,
    DESKTOP,
    PHONE,
    assert_fits,
    browser_fixture,
    expect,
    flash,
    log_in,
    one_database_fixture,
    open_page_fixture,
    shoot,
)
from tests.live_server import live_server  # noqa: F401  (a fixture)
from tocsin.auth.models import User
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate

pytestmark = BROWSER_MARKS


def test_two_people_talk_in_the_room_without_reloading(
    db, make_user, viewer, clock, one_database, open_page
):
    ines, tom = make_user(name="Ines Manager"), make_user(name="Tom Techlead")
    with db.begin() as session:
        data = IncidentCreate(summary="Card payments fail", severity="SEV1")
        incidents.declare_incident(session, session.get(User, ines.id), data)

    desk = open_page(DESKTOP)
    log_in(desk, ines, "/incidents/INC-1")
    desk.get_by_role("link", name="Incident room").click()
    expect(desk.get_by_role("heading", name=re.compile("Incident room"))).to_be_visible()
    expect(desk.locator(".room-empty")).to_be_visible()

    phone = open_page(PHONE, phone=True)
    log_in(phone, tom, "/incidents/INC-1/room")
    phone.get_by_label("Message").fill("Error rate is 40%; the deploy at 08:55 touched payments.")
    phone.get_by_role("button", name="Send").click()
    mine = phone.locator(".message.mine")
    expect(mine).to_have_count(1)
    expect(mine.locator(".message-body")).to_have_text(
        "Error rate is 40%; the deploy at 08:55 touched payments."
    )
    expect(phone.get_by_label("Message")).to_have_value("")

    # The desk sees it arrive without a reload, and answers with Enter.
    expect(desk.locator(".message .message-who")).to_have_text(["Tom Techlead"])
    expect(desk.locator(".room-empty")).to_be_hidden()
    desk.get_by_label("Message").fill("<img src=x onerror=alert(1)> Roll it back.")
    desk.get_by_label("Message").press("Enter")
    expect(phone.locator(".message .message-body")).to_have_text(
        [
            "Error rate is 40%; the deploy at 08:55 touched payments.",
            "<img src=x onerror=alert(1)> Roll it back.",
        ]
    )
    expect(phone.locator(".message img")).to_have_count(0)
    # Polls overlap the last half minute: after another poll each message still shows once.
    with desk.expect_response(lambda answer: "/room/messages?after=" in answer.url):
        pass
    expect(desk.locator(".message")).to_have_count(2)
    expect(desk.locator(".message.mine .message-who")).to_have_text(["Ines Manager"])

    # An empty message is refused on the page, not sent.
    phone.get_by_label("Message").fill("   ")
    phone.get_by_role("button", name="Send").click()
    expect(phone.locator(".room-error")).to_have_text("Write something first.")
    expect(phone.locator(".message")).to_have_count(2)

    assert_fits(phone, PHONE["width"])
    shoot(phone, "room-phone")

    # The incident manager adds the video call; everyone in the room gets the button.
    desk.get_by_text("Add a video call link").click()
    desk.get_by_label("Video call link").fill("https://meet.example.com/inc-1")
    desk.get_by_role("button", name="Save").click()
    expect(flash(desk)).to_have_text("The video call link is saved.")
    expect(desk.get_by_role("link", name="Join the video call")).to_have_attribute(
        "href", "https://meet.example.com/inc-1"
    )
    shoot(desk, "room-desktop")

    # A line worth keeping goes to the timeline, naming who said it.
    desk.locator(".message", has_text="Error rate is 40%").get_by_role(
        "button", name="Add to timeline"
    ).click()
    expect(flash(desk)).to_have_text("Added to the timeline.")
    desk.goto("/incidents/INC-1")
    expect(desk.locator(".timeline .event .what").first).to_have_text(
        "Tom Techlead in the room at 09:00 UTC: "
        "Error rate is 40%; the deploy at 08:55 touched payments."
    )
    links = desk.locator("#room-links")
    expect(links.get_by_role("link", name="Incident room")).to_contain_text("2")
    expect(links.get_by_role("link", name="Join the video call")).to_be_visible()
    shoot(desk, "room-links-desktop")

    # A viewer reads along but has nothing to type into.
    reader = open_page(PHONE, phone=True)
    log_in(reader, viewer, "/incidents/INC-1/room")
    expect(reader.locator(".message")).to_have_count(2)
    expect(reader.get_by_label("Message")).to_have_count(0)
    expect(reader.get_by_role("button", name="Add to timeline")).to_have_count(0)


def test_the_state_document_is_written_on_a_phone_and_read_on_the_incident(
    db, make_user, clock, one_database, open_page
):
    ines, tom = make_user(name="Ines Manager"), make_user(name="Tom Techlead")
    with db.begin() as session:
        data = IncidentCreate(summary="Card payments fail", severity="SEV1")
        incidents.declare_incident(session, session.get(User, ines.id), data)

    phone = open_page(PHONE, phone=True)
    log_in(phone, ines, "/incidents/INC-1")
    phone.locator("#state").get_by_role("link", name="Start it").click()
    editor = phone.get_by_label("What everyone joining should know now")
    expect(editor).to_have_value(re.compile(r"^What is happening:\n\nCustomer impact:"))
    editor.fill(
        "What is happening: card payments fail for EU customers.\n"
        "What we are doing, and who: Tom rolls back deploy 4512."
    )
    assert_fits(phone, PHONE["width"])
    shoot(phone, "state-editor-phone")
    phone.get_by_role("button", name="Save version 1").click()
    expect(flash(phone)).to_have_text("State document saved (version 1).")
    expect(phone.locator("#state .state-body")).to_contain_text("Tom rolls back deploy 4512.")
    assert_fits(phone, PHONE["width"])

    desk = open_page(DESKTOP)
    log_in(desk, tom, "/incidents/INC-1")
    state = desk.locator("#state")
    expect(state.locator(".state-body")).to_have_text(
        "What is happening: card payments fail for EU customers.\n"
        "What we are doing, and who: Tom rolls back deploy 4512."
    )
    expect(state.locator(".state-meta")).to_contain_text("Version 1 · Ines Manager")
    shoot(desk, "state-incident-desktop")
