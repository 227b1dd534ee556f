"""Outbound requests go only where they should: a contact method, a stakeholder channel or a
webhook subscriber pointed at this machine or the network it stands in is refused in plain
words, whatever the spelling of the address, and the listener there sees nothing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.alerting import run_engine
from tests.peers import free_port
from tocsin.auth.models import Role
from tocsin.config import Settings
from tocsin.outbound import REFUSED, Allowlist, is_internal
from tocsin.paging import channels
from tocsin.paging.service import Delivery


class Listener:
    """A TCP port on every address of this machine (IPv4 and IPv6) that notes who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[str] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections.append(str(peer[0]))
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    ear = Listener()
    yield ear
    ear.close()


NO_ALLOWLIST = Settings(outbound_allow="")

# Every way to write an address of this machine (and of the networks around it).
THIS_MACHINE = [
    "127.0.0.1",
    "127.0.0.2",
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",  # hex
    "0x7f000001",
    "127.1",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::1]",
    "0.0.0.0",
    "0",
    "[::]",
    "localhost",
]
ELSEWHERE_INSIDE = [
    "169.254.169.254",  # the cloud's metadata service
    "[fe80::1]",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "[fd00::1]",
    "100.64.0.1",  # shared (carrier-grade NAT)
    "224.0.0.1",  # multicast
    "[ff02::1]",
]


def _own_addresses() -> list[str]:
    """This machine's own non-loopback addresses (a container's private one, say)."""
    found = set()
    for info in socket.getaddrinfo(socket.gethostname(), None):
        address = info[4][0]
        if not address.startswith("127.") and address != "::1":
            found.add(f"[{address}]" if ":" in address else address)
    return sorted(found)


def delivery(channel: str, address: str) -> Delivery:
    return Delivery(1, "test:outbound", channel, address, "Title", "Body", {}, 1)


def addresses_for(host: str, port: int) -> list[tuple[str, str]]:
    """The channels a user can give, all pointed at `host`:`port`."""
    return [
        ("webhook", f"http://{host}:{port}/latest/meta-data/"),
        ("webhook", f"https://{host}:{port}/hook"),
        ("apprise", f"json://{host}:{port}/latest?method=DELETE&+Metadata-Flavor=Google"),
        ("apprise", f"jsons://{host}:{port}/hook"),
        ("apprise", f"form://{host}:{port}/hook"),
        ("apprise", f"xml://{host}:{port}/hook"),
        ("apprise", f"mailto://user:pass@{host}:{port}?to=ops@example.org&from=t@example.org"),
    ]


@pytest.mark.parametrize("host", THIS_MACHINE + ELSEWHERE_INSIDE)
def test_every_spelling_of_an_internal_address_is_refused_and_nothing_arrives(
    listener: Listener, host: str
) -> None:
    """Where a library reads the address as one, it is refused in plain words and for good;
    some spellings a library cannot read at all (httpx reads no octal), which fails too."""
    refused = []
    for channel, address in addresses_for(host, listener.port):
        with pytest.raises(Exception) as failed:
            channels.send(delivery(channel, address), NO_ALLOWLIST)
        if str(failed.value) == REFUSED:
            assert isinstance(failed.value, channels.DeliveryError) and failed.value.permanent
            refused.append(address)
        else:  # not read as an address: nothing was resolved, nothing connected
            assert "refused" not in str(failed.value).lower() or "connection" in str(failed.value)
    assert listener.connections == []
    readable_by_every_library = host not in {"0177.0.0.1"}
    if readable_by_every_library:
        assert f"http://{host}:{listener.port}/latest/meta-data/" in refused


def test_this_machines_own_addresses_are_refused(listener: Listener) -> None:
    for host in _own_addresses():
        for channel, address in addresses_for(host, listener.port):
            with pytest.raises(channels.DeliveryError, match=REFUSED):
                channels.send(delivery(channel, address), NO_ALLOWLIST)
    assert listener.connections == []


def test_send_test_is_no_port_scanner(listener: Listener) -> None:
    """An open port and a closed one answer in the same words."""
    closed = free_port()
    answers = set()
    for port in (listener.port, closed):
        for channel, address in addresses_for("127.0.0.2", port):
            with pytest.raises(channels.DeliveryError) as refused:
                channels.send(delivery(channel, address), NO_ALLOWLIST)
            answers.add(str(refused.value))
    assert answers == {REFUSED}
    assert listener.connections == []


class Redirector:
    """An HTTP server that answers every request with a redirect to `target`."""

    def __init__(self, target: str) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def _redirect(self) -> None:
                hits.append(self.path)
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _redirect

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("target_host", ["127.0.0.2", "127.0.0.1"])
def test_a_redirect_is_not_followed(listener: Listener, target_host: str) -> None:
    """The allowlisted sink redirects to an internal address (and to itself): not followed."""
    redirector = Redirector(f"http://{target_host}:{listener.port}/latest/meta-data/")
    allowed = Settings(outbound_allow="127.0.0.1")
    try:
        for channel, address in [
            ("webhook", f"http://127.0.0.1:{redirector.port}/hook"),
            ("apprise", f"json://127.0.0.1:{redirector.port}/hook"),
            ("apprise", f"form://127.0.0.1:{redirector.port}/hook"),
        ]:
            with pytest.raises(channels.DeliveryError) as failed:
                channels.send(delivery(channel, address), allowed)
            assert str(failed.value) != REFUSED  # it reached the sink; the sink said 302
        assert len(redirector.hits) == 3
    finally:
        redirector.close()
    assert listener.connections == []


def test_the_allowlist_lets_a_named_sink_through(webhook_receiver) -> None:
    for allow in ("127.0.0.1", "127.0.0.0/8", "localhost, 10.0.0.0/8"):
        settings = Settings(outbound_allow=allow)
        host = "localhost" if allow.startswith("localhost") else "127.0.0.1"
        url = webhook_receiver.url.replace("127.0.0.1", host)
        channels.send(delivery("webhook", url), settings)
        channels.send(delivery("apprise", url.replace("http://", "json://")), settings)
    assert len(webhook_receiver.received) == 6
    # Naming one address lets that one through, not its neighbours.
    with pytest.raises(channels.DeliveryError, match=REFUSED):
        channels.send(
            delivery("webhook", webhook_receiver.url.replace("127.0.0.1", "127.0.0.2")),
            Settings(outbound_allow="127.0.0.1"),
        )


def test_what_counts_as_internal() -> None:
    import ipaddress

    for text in ["127.0.0.1", "::ffff:10.1.2.3", "2002:c0a8:0101::1", "64:ff9b::a00:1", "0.0.0.0"]:
        assert is_internal(ipaddress.ip_address(text)), text
    for text in ["8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"]:
        assert not is_internal(ipaddress.ip_address(text)), text
    allow = Allowlist.parse("10.0.0.0/8, chat.internal ,127.0.0.1")
    assert allow.names("Chat.Internal.") and allow.admits(ipaddress.ip_address("10.9.9.9"))
    for bad in ("10.0.0.0/99", "a b", "2130706433"):
        with pytest.raises(ValueError):
            Allowlist.parse(bad)


def test_send_test_to_an_internal_address_says_refused_and_is_not_retried(
    db, clock, api_as, make_user, listener: Listener
) -> None:
    """A viewer points a contact method at the metadata service, then at this machine."""
    viewer = api_as(make_user(Role.VIEWER, name="Vic"))
    methods = [
        viewer.post(
            "/api/v1/me/contact-methods",
            json={"channel": channel, "address": address, "label": f"m{n}"},
        ).json()
        for n, (channel, address) in enumerate(
            [
                ("webhook", f"http://127.0.0.2:{listener.port}/latest/meta-data/"),
                ("apprise", f"json://2130706434:{listener.port}/?method=DELETE"),  # 127.0.0.2
            ]
        )
    ]
    for method in methods:
        assert viewer.post(f"/api/v1/me/contact-methods/{method['id']}/test").status_code == 202
    run_engine(db, Settings(database_url=db.url, outbound_allow="127.0.0.1"))
    clock.advance(hours=2)
    run_engine(db, Settings(database_url=db.url, outbound_allow="127.0.0.1"))
    sent = viewer.get("/api/v1/me/notifications").json()["items"]
    assert {(n["status"], n["attempts"], n["last_error"]) for n in sent} == {("failed", 1, REFUSED)}
    assert listener.connections == []


def test_a_name_is_resolved_once_and_every_answer_checked(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that answers an internal address (or a public one beside it) is refused; an
    allowed one is connected to at the very address that was checked, whatever a later
    answer for the same name would say."""
    import socket as sockets

    from tocsin import outbound

    answers = {
        "metadata.attacker.test": [["127.0.0.2"]],
        "mixed.attacker.test": [["8.8.8.8", "127.0.0.2"]],
        # First answer: the allowed sink; any later one would be the metadata service.
        "rebind.attacker.test": [["127.0.0.1"], ["169.254.169.254"]],
    }
    asked: list[str] = []
    real = outbound._system_getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        rounds = answers[host]
        chosen = rounds[0] if len(rounds) == 1 else rounds.pop(0)
        return [
            (sockets.AF_INET, sockets.SOCK_STREAM, 6, "", (address, int(port)))
            for address in chosen
        ]

    monkeypatch.setattr(outbound, "_system_getaddrinfo", resolver)
    allowed = Settings(outbound_allow="127.0.0.1")
    for name in ("metadata.attacker.test", "mixed.attacker.test"):
        for channel, address in addresses_for(name, listener.port):
            with pytest.raises(channels.DeliveryError, match=REFUSED):
                channels.send(delivery(channel, address), allowed)
    assert listener.connections == []

    with pytest.raises(channels.DeliveryError) as failed:  # the listener speaks no HTTP
        channels.send(delivery("webhook", f"http://rebind.attacker.test:{listener.port}/"), allowed)
    assert str(failed.value) != REFUSED
    assert asked.count("rebind.attacker.test") == 1
    assert listener.connections in (["::ffff:127.0.0.1"], ["127.0.0.1"])
