"""Checks of the addresses people give for notifications, and how such an address is shown."""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import unquote, urlsplit

HIDDEN = "…"
_EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/:]+$")
_HOSTNAME = re.compile(r"^[\w-]+(\.[\w-]+)+$")


def apprise_understands(url: str) -> bool:
    """Whether Apprise knows this kind of URL and can parse it; nothing goes over the network."""
    import apprise  # imported on first use: it loads a plugin for every service it knows

    return bool(apprise.Apprise().add(url))


def _is_host(name: str) -> bool:
    """A host name or address, not a token that a service's URL puts where the host goes
    (slack://TokenA/TokenB/TokenC)."""
    if name == "localhost" or _HOSTNAME.match(name):
        return True
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def redacted(address: str) -> str:
    """A channel's address as it may be shown anywhere (logs, pages, errors): its scheme and
    host only (`json://127.0.0.1:8229/…`), since users, passwords, paths and queries carry
    tokens. A plain email address has no secret and is shown whole."""
    if _EMAIL.match(address):
        return address
    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
    except ValueError:  # not even a URL: its scheme, when it has one
        scheme, found, _rest = address.partition("://")
        return f"{scheme}://{HIDDEN}" if found and scheme.isalnum() else HIDDEN
    try:
        port = parts.port
    except ValueError:  # not a port: shown without one
        port = None
    if not parts.scheme:
        return HIDDEN
    if not _is_host(host):
        return f"{parts.scheme}://{HIDDEN}"
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown += f":{port}"
    rest = parts.path.strip("/") or parts.query or parts.username
    return f"{parts.scheme}://{shown}" + (f"/{HIDDEN}" if rest else "")


def without_secrets(text: str, address: str) -> str:
    """`text` (an error a library gave back) with the parts of `address` that may carry a
    secret replaced: the whole address by its redacted form, then its user, password,
    path and query wherever they still appear."""
    if _EMAIL.match(address):
        return text
    text = text.replace(address, redacted(address))
    try:
        parts = urlsplit(address)
        # Short words of a path ("/hook") are no secret, and would garble the text.
        tokens = [parts.path.strip("/"), parts.query, *parts.path.split("/")]
        secrets = [s for s in tokens if len(s) >= 12]
        secrets += [s for s in (parts.netloc.rpartition("@")[0], parts.password) if s]
        if not _is_host(parts.hostname or ""):
            secrets.append(parts.netloc)
    except ValueError:
        return text
    for secret in sorted(set(secrets), key=len, reverse=True):
        for form in {secret, unquote(secret)}:
            text = text.replace(form, HIDDEN)
    return text


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
# urllib3's debug line names the path alone: "POST /hooks/T0KEN HTTP/1.1".
_REQUEST_LINE = re.compile(r"\b([A-Z]+) /\S* (HTTP/[\d.]+)")


def redact_urls(text: str) -> str:
    """Every URL in `text` (a library's log line or error) in its redacted form."""
    text = _URL.sub(lambda found: redacted(found.group(0).rstrip(".,;)")), text)
    return _REQUEST_LINE.sub(rf"\1 /{HIDDEN} \2", text)


# The libraries that send to channels, and name the URLs they send to in their log lines.
SENDING_LOGGERS = ("apprise", "httpx2", "urllib3.connectionpool")


class RedactedLog(logging.Filter):
    """Keeps a library's log lines (Apprise names the URLs it sends to) free of secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
