"""The one way out to an address a user gave: names resolve once, internal addresses are refused.

Contact methods, stakeholder channels and status-page webhook subscribers are addresses
that people type in; sent to blindly, they would turn Tocsin into a scanner of its own
network (loopback, the cloud's metadata service, the office LAN). Every send to such an
address runs inside `guarded()`. While it is active (in this thread only), every name
the libraries resolve (urllib3 under Apprise's `requests`, smtplib for `mailto://`,
httpcore for webhooks, Apprise's own sockets) goes through `_checked_getaddrinfo`: each
address it answers is checked, and the library connects to exactly the addresses that
were checked, so a second DNS answer cannot swap one in. A redirect is not followed.

The operator's allowlist (`TOCSIN_OUTBOUND_ALLOW`: CIDRs and host names) lets an
internal chat server or a test sink through. Outside `guarded()` nothing changes: the
operator's own SMTP server and PostgreSQL resolve as they always did.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

REFUSED = "refused: an internal address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# 100.64/10 (carrier-grade NAT) is not private to `ipaddress`, but is not global either.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(OSError):
    """A connection to an internal address that no allowlist names: an OSError, so every
    library treats it as a connection that could not be made."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


@dataclass(frozen=True)
class Allowlist:
    """What an operator lets through although it is internal: networks and host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """`10.0.0.0/8, chat.internal, 127.0.0.1`; raises ValueError on an unreadable entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (part.strip() for part in text.replace(";", ",").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                name = entry.rstrip(".").lower()
                if not name or any(ch in name for ch in "/:@ ") or name.replace(".", "").isdigit():
                    raise ValueError(f"not a network or a host name: {entry!r}") from None
                hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def names(self, host: str) -> bool:
        return host.rstrip(".").lower() in self.hosts

    def admits(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and every IPv4 address it carries (::ffff:a.b.c.d, 6to4, Teredo, NAT64)."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_internal(address: IPAddress) -> bool:
    """Loopback, link-local, private, shared, multicast, unspecified or reserved: anything
    that is not a public unicast address, in whatever form it is written."""
    return any(not a.is_global or a.is_multicast for a in _embedded(address))


def permitted(address: IPAddress, allow: Allowlist) -> bool:
    return not is_internal(address) or any(allow.admits(a) for a in _embedded(address))


@dataclass
class Guard:
    """One guarded send: what it allows, and whether it refused something (for the error)."""

    allow: Allowlist
    refused: list[str] = field(default_factory=list)


_active: ContextVar[Guard | None] = ContextVar("tocsin_outbound_guard", default=None)
_system_getaddrinfo = socket.getaddrinfo


def _address_of(sockaddr: tuple[Any, ...]) -> IPAddress:
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])


def _checked_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """socket.getaddrinfo, and inside `guarded()` the check of every address it answers."""
    answers = _system_getaddrinfo(host, port, *args, **kwargs)
    guard = _active.get()
    if guard is None or host is None:
        return answers
    name = host.decode() if isinstance(host, bytes) else str(host)
    if guard.allow.names(name):
        return answers
    for *_, sockaddr in answers:
        if not permitted(_address_of(sockaddr), guard.allow):
            guard.refused.append(name)
            raise RefusedAddress()
    return answers


def _no_redirects(original: Any) -> Any:
    def resolve_redirects(self: Any, response: Any, request: Any, **kwargs: Any) -> Iterator[Any]:
        if _active.get() is not None:
            return iter(())  # the 3xx answer itself is the result: a failed send
        return original(self, response, request, **kwargs)

    return resolve_redirects


_installed = False


def install() -> None:
    """Puts the check in place (once per process); inert until `guarded()` is entered."""
    global _installed
    if _installed:
        return
    import requests.sessions

    socket.getaddrinfo = _checked_getaddrinfo
    session_class = requests.sessions.Session
    session_class.resolve_redirects = _no_redirects(session_class.resolve_redirects)
    _installed = True


@contextmanager
def guarded(allow: Allowlist) -> Iterator[Guard]:
    """Everything this thread connects to inside the block is checked first."""
    install()
    guard = Guard(allow)
    token = _active.set(guard)
    try:
        yield guard
    finally:
        _active.reset(token)
