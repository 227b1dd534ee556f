"""Real peers for notification tests: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage as Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """What the SMTP server received; `refusing` makes it answer 451 (try again later), and
    a closed `gate` holds each message until it opens (a relay that stalls)."""

    url: str = ""
    messages: list[Message] = field(default_factory=list)
    refusing: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event | None = None
    held_from: set[int] = field(default_factory=set)  # client ports of messages at the gate

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        if self.refusing:
            return "451 4.3.0 Mail server temporarily unavailable"
        gate = self.gate
        if gate is not None and not gate.is_set():
            self.held_from.add(session.peer[1])
            while not gate.is_set():
                await asyncio.sleep(0.02)
            self.held_from.discard(session.peer[1])
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        self.arrived.set()
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{port}"
    yield mailbox
    controller.stop()


@dataclass
class Hook:
    url: str = ""
    received: list[tuple[dict[str, str], dict]] = field(default_factory=list)
    status: int = 204
    # Set, the receiver holds each request until the event is set (a slow receiver).
    hold: threading.Event | None = None
    waiting: bool = False


@pytest.fixture
def webhook_receiver() -> Iterator[Hook]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if hook.hold is not None:
                hook.waiting = True
                hook.hold.wait(30)
            hook.received.append((dict(self.headers), body))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
