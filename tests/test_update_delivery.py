"""A stakeholder update that does not arrive is seen: beside the update on the incident and
on its timeline (the first failure and the outcome), never claimed as sent. The failing
channel is a real local HTTP server that answers 500, then recovers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import test_comms
from tests.alerting import run_engine
from tests.conftest import browser_login
from tests.peers import free_port
from tests.test_comms import Room, events
from tocsin.paging.delivery import MAX_ATTEMPTS

room = test_comms.room  # INC-1 with its people and pages (a fixture)


@dataclass
class Chat:
    """A chat server's webhook on this machine; `status` is what it answers."""

    url: str = ""
    status: int = 200
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def broken() -> Iterator[Chat]:
    chat = Chat(status=500)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if chat.status < 300:
                chat.received.append(body)
            self.send_response(chat.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    chat.url = f"json://127.0.0.1:{server.server_address[1]}/hooks/T0KEN"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield chat
    server.shutdown()
    server.server_close()


def _channels(api, webhook_receiver, broken: Chat) -> tuple[int, int]:
    good = api.post(
        "/api/v1/stakeholder-channels",
        json={"name": "#incidents", "url": webhook_receiver.url.replace("http://", "json://")},
    )
    bad = api.post("/api/v1/stakeholder-channels", json={"name": "#broken", "url": broken.url})
    assert good.status_code == bad.status_code == 201, (good.text, bad.text)
    return good.json()["id"], bad.json()["id"]


def _send(api, room: Room, channel_ids: list[int]) -> None:
    sent = api.post(
        f"/api/v1/incidents/{room.key}/updates",
        json={"channel_ids": channel_ids, "body": "Payments are failing; rolling back."},
    )
    assert sent.status_code == 201, sent.text
    assert [d["state"] for d in sent.json()["deliveries"]] == ["on_its_way"] * len(channel_ids)


def _deliveries(api, room: Room) -> dict[str, dict]:
    (update,) = api.get(f"/api/v1/incidents/{room.key}/updates").json()
    return {d["channel"]: d for d in update["deliveries"]}


def test_a_channel_that_fails_shows_retrying_then_delivered(
    db, clock, room, admin, api_as, client, settings, webhook_receiver, broken
):
    good, bad = _channels(api_as(admin), webhook_receiver, broken)
    cora = api_as(room.cm)
    _send(cora, room, [good, bad])

    # The update's line on the timeline names both channels, and claims neither got it.
    (posted,) = events(db, room.incident_id, "stakeholder_update")
    assert posted.startswith("Stakeholder update 1 on its way to #incidents, #broken:")
    assert "sent to" not in posted

    run_engine(db, settings)
    assert len(webhook_receiver.received) == 1 and broken.received == []
    shown = _deliveries(cora, room)
    assert shown["#incidents"]["words"] == "delivered to #incidents"
    retrying = shown["#broken"]
    assert retrying["state"] == "retrying" and retrying["attempts"] == 1
    assert retrying["words"].startswith("not delivered to #broken yet: retrying — ")
    assert "500" in retrying["reason"] and " - WARNING - " not in retrying["reason"]
    assert "T0KEN" not in json.dumps(shown)
    (first_failure,) = events(db, room.incident_id, "stakeholder_update_failed")
    assert first_failure.startswith("Stakeholder update 1 not delivered to #broken yet: retrying")

    # The communications manager and the incident manager see it beside the update.
    for person in (room.cm, room.im):
        client.cookies.clear()
        browser_login(client, person)
        page = client.get(f"/incidents/{room.key}").text
        assert "not delivered to #broken yet: retrying — " in page
        assert "delivered to #incidents" in page
        assert "T0KEN" not in page

    # Another failed try adds nothing to the timeline; then the chat server recovers.
    clock.advance(seconds=31)
    run_engine(db, settings)
    assert _deliveries(cora, room)["#broken"]["attempts"] == 2
    assert len(events(db, room.incident_id, "stakeholder_update_failed")) == 1
    broken.status = 200
    clock.advance(seconds=61)
    run_engine(db, settings)
    assert len(broken.received) == 1
    assert _deliveries(cora, room)["#broken"]["words"] == "delivered to #broken"
    assert events(db, room.incident_id, "stakeholder_update_delivered") == [
        "Stakeholder update 1 delivered to #broken after 3 tries"
    ]
    assert len(events(db, room.incident_id, "stakeholder_update_failed")) == 1
    client.cookies.clear()
    browser_login(client, room.cm)
    assert "delivered to #broken" in client.get(f"/incidents/{room.key}").text


def test_a_channel_that_never_recovers_shows_gave_up(
    db, clock, room, admin, api_as, settings, webhook_receiver, broken
):
    _good, bad = _channels(api_as(admin), webhook_receiver, broken)
    cora = api_as(room.cm)
    _send(cora, room, [bad])
    for _ in range(MAX_ATTEMPTS):
        run_engine(db, settings)
        clock.advance(minutes=16)
    gave_up = _deliveries(cora, room)["#broken"]
    assert gave_up["state"] == "gave_up" and gave_up["attempts"] == MAX_ATTEMPTS
    assert gave_up["words"].startswith(
        f"not delivered to #broken: gave up after {MAX_ATTEMPTS} tries — "
    )
    failures = events(db, room.incident_id, "stakeholder_update_failed")
    assert [f.split(":")[0] for f in failures] == [
        "Stakeholder update 1 not delivered to #broken yet",
        "Stakeholder update 1 not delivered to #broken",
    ]
    assert f"gave up after {MAX_ATTEMPTS} tries" in failures[1]
