"""A channel's secret is never shown back: a marker planted in a channel of every kind the
forms offer (stakeholder channels, contact methods, webhook subscribers) appears in no page,
API answer, log line or metric, also when its sends fail; and a shortened URL as Tocsin
shows it is never taken back as a new one."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import test_comms
from tests.alerting import run_engine
from tests.conftest import assert_error, browser_login
from tests.peers import free_port
from tocsin.config import Settings
from tocsin.paging.addresses import redacted

MARK = "S3CRETMARK"

room = test_comms.room  # INC-1 with its people and pages (a fixture)


@pytest.fixture
def failing_sink() -> Iterator[str]:
    """An HTTP server on this machine that answers every request 500: "host:port"."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_planted_secret_appears_nowhere(
    db, clock, room, admin, api_as, client, smtp_server, failing_sink, caplog
):
    caplog.set_level(logging.DEBUG)
    sink, smtp = failing_sink, smtp_server.url.removeprefix("smtp://")
    settings = Settings(database_url=db.url, base_url="http://testserver", smtp_url=smtp_server.url)
    as_admin = api_as(admin)
    channels = {
        "#chat": f"json://bot:{MARK}@{sink}/hooks/{MARK}?token={MARK}",
        "#forms": f"form://{sink}/{MARK}",
        "leadership list": f"mailto://ops:{MARK}@{smtp}?to=lead@example.org&from=t@example.org",
        "inside": f"mailto://ops:{MARK}@127.0.0.2:25?to=lead@example.org&from=t@example.org",
        "#slack": f"slack://T1JJ3T3L2/A1BRTD4JD/{MARK}TOKEN0123456789/#incidents",
        "#discord": f"discord://1234567890/{MARK}token",
        "#telegram": f"tgram://123456789:{MARK}abcdefghijklmnopqrstuvwxy/12345",
    }
    ids = {}
    for name, url in channels.items():
        made = as_admin.post("/api/v1/stakeholder-channels", json={"name": name, "url": url})
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
    assert as_admin.get("/api/v1/stakeholder-channels").json()[0]["shown"] == (f"json://{sink}/…")

    rita = api_as(room.cm)
    methods = [
        ("webhook", f"http://{sink}/hooks/{MARK}"),
        ("webhook", f"http://user:{MARK}@127.0.0.2:8080/x"),
        ("apprise", f"json://user:{MARK}@{sink}/{MARK}"),
        ("apprise", f"ntfy://user:{MARK}@127.0.0.2/topic"),
    ]
    for n, (channel, address) in enumerate(methods):
        made = rita.post(
            "/api/v1/me/contact-methods",
            json={"channel": channel, "address": address, "label": f"method {n}"},
        )
        assert made.status_code == 201, made.text
        assert rita.post(f"/api/v1/me/contact-methods/{made.json()['id']}/test").status_code == 202

    hooked = as_admin.post(
        f"/api/v1/status-pages/{room.public_page}/subscribers",
        json={"kind": "webhook", "address": f"http://{sink}/status/{MARK}"},
    )
    assert hooked.status_code == 201, hooked.text
    sent = rita.post(
        f"/api/v1/incidents/{room.key}/updates",
        json={
            "channel_ids": [ids["#chat"], ids["#forms"], ids["leadership list"], ids["inside"]],
            "page_ids": [room.public_page],
            "body": "Payments fail; rolling back.",
            "public_body": "Payments fail for some customers.",
        },
    )
    assert sent.status_code == 201, sent.text
    for _ in range(2):
        run_engine(db, settings)
        clock.advance(minutes=5)

    # Everything that can mention a channel, read by those who may read it.
    answers = {}
    for path in (
        "/api/v1/stakeholder-channels",
        f"/api/v1/incidents/{room.key}/updates",
        f"/api/v1/incidents/{room.key}/timeline",
        f"/api/v1/status-pages/{room.public_page}/subscribers",
        "/api/v1/audit",
    ):
        answers[path] = as_admin.get(path)
    for path in ("/api/v1/me/contact-methods", "/api/v1/me/notifications"):
        answers[path] = rita.get(path)
    answers["/metrics"] = as_admin.get("/metrics")
    browser_login(client, admin)
    for path in (
        "/admin/health",
        "/admin/stakeholder-channels",
        f"/incidents/{room.key}",
        f"/status-pages/{room.public_page}/subscribers",
        "/admin/audit",
    ):
        answers[path] = client.get(path)
    client.cookies.clear()
    browser_login(client, room.cm)
    answers["/settings"] = client.get("/settings/notifications")
    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.status_code)
        assert MARK not in answer.text, (path, answer.text[answer.text.find(MARK) - 300 :][:600])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert MARK not in logged, logged[logged.find(MARK) - 300 :][:600]

    # What was shown instead: the label and the scheme and host.
    health = answers["/admin/health"].text
    assert "Deliveries that went wrong" in health
    assert f"json://{sink}/…" in health or "#chat" in health
    assert "refused: an internal address" in health
    assert (
        "method 0" in answers["/settings"].text and f"http://{sink}/…" in answers["/settings"].text
    )
    # Sends did happen and fail: this was no test of nothing.
    updates = answers[f"/api/v1/incidents/{room.key}/updates"].json()
    states = {d["channel"]: d["state"] for d in updates[0]["deliveries"]}
    assert states["#chat"] == "retrying" and states["inside"] == "gave_up"


def test_a_shortened_url_is_never_taken_back(
    db, admin, api_as, client, responder, webhook_receiver
):
    as_admin = api_as(admin)
    url = webhook_receiver.url.replace("http://", "json://") + f"/{MARK}"
    made = as_admin.post("/api/v1/stakeholder-channels", json={"name": "#chat", "url": url})
    assert made.status_code == 201, made.text
    channel = made.json()
    shown = channel["shown"]
    assert shown == redacted(url) and shown.endswith("/…") and MARK not in shown

    # A new channel with a URL as Tocsin shows it back is refused: it would send nowhere.
    assert_error(
        as_admin.post("/api/v1/stakeholder-channels", json={"name": "copy", "url": shown}),
        422,
        field="url",
    )
    # Renaming without the URL, or with it as shown, keeps the stored URL (and its token).
    path = f"/api/v1/stakeholder-channels/{channel['id']}"
    renamed = as_admin.patch(path, json={"name": "#chat-ops"})
    assert renamed.status_code == 200 and renamed.json()["shown"] == shown
    assert as_admin.patch(path, json={"name": "#ops", "url": shown}).status_code == 200
    assert as_admin.patch(path, json={"url": ""}).status_code == 200
    # Another shortened URL is not a new value.
    assert_error(as_admin.patch(path, json={"url": "json://example.org/…"}), 422, field="url")
    assert_error(as_admin.patch(path, json={"url": "zzz://nothing"}), 422, field="url")
    assert_error(as_admin.patch(path, json={"name": ""}), 422)
    assert_error(api_as(responder).patch(path, json={"name": "x"}), 403)
    assert_error(as_admin.patch("/api/v1/stakeholder-channels/999", json={"name": "x"}), 404)

    # The admin page's form starts with the URL empty; saving it keeps the stored one.
    csrf = browser_login(client, admin)
    saved = client.post(
        f"/admin/stakeholder-channels/{channel['id']}",
        data={"csrf_token": csrf, "name": "#incidents", "url": ""},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get("/admin/stakeholder-channels").text
    assert "#incidents" in page and shown in page and MARK not in page
    refused = client.post(
        f"/admin/stakeholder-channels/{channel['id']}",
        data={"csrf_token": csrf, "name": "#incidents", "url": "json://example.org/…"},
    )
    assert "shortened" in refused.text

    # The stored URL still works: an update goes out to it, token and all.
    with_token = as_admin.get("/api/v1/stakeholder-channels").json()
    assert [c["name"] for c in with_token] == ["#incidents"]
    from tocsin.comms.models import StakeholderChannel

    with db.begin() as session:
        assert session.get(StakeholderChannel, channel["id"]).url == url

    # Contact methods and webhook subscribers refuse a shortened address the same way.
    me = api_as(responder)
    assert_error(
        me.post(
            "/api/v1/me/contact-methods",
            json={"channel": "webhook", "address": "http://example.org/…"},
        ),
        422,
    )
    assert_error(
        as_admin.post(
            "/api/v1/status-pages/1/subscribers",
            json={"kind": "webhook", "address": "https://hooks.example.org/…"},
        ),
        422,
    )


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("json://user:pw@127.0.0.1:8229/path/tok", "json://127.0.0.1:8229/…"),
        ("slack://T0/B0/tok/#incidents", "slack://…"),
        ("mailto://u:pw@smtp.example.org:587?to=a@b.org", "mailto://smtp.example.org:587/…"),
        ("https://hooks.example.org/services/tok", "https://hooks.example.org/…"),
        ("https://[::1]:8443/x", "https://[::1]:8443/…"),
        ("ops@example.org", "ops@example.org"),
        ("not a url", "…"),
    ],
)
def test_one_function_redacts(address: str, shown: str) -> None:
    assert redacted(address) == shown
    assert json.dumps(redacted(address))  # always a plain string


def test_an_error_stored_with_a_whole_url_is_shown_without_it(db, admin, client) -> None:
    """A notification that failed before errors were cleaned where they are recorded."""
    from tocsin.paging.models import Notification

    with db.begin() as session:
        session.add(
            Notification(
                idempotency_key="old:1",
                purpose="stakeholders",
                channel="apprise",
                address=f"json://u:{MARK}@chat.example.org/{MARK}",
                label="#old",
                title="Old update",
                body="",
                status="failed",
                attempts=8,
                last_error=f"Failed sending to json://u:{MARK}@chat.example.org/{MARK}",
            )
        )
        session.commit()
    browser_login(client, admin)
    health = client.get("/admin/health").text
    assert "json://chat.example.org/…" in health and MARK not in health
