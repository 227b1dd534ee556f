"""Sending one notification: email through SMTP, a JSON webhook, or any Apprise URL.

Every send carries the notification's idempotency key (the mail's Message-ID, the
webhook's Idempotency-Key header), the same on every attempt, so a receiver folds the
repeat a worker that died after handing a message over leaves behind.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2

from tocsin import outbound
from tocsin.config import Settings
from tocsin.paging.addresses import (
    SENDING_LOGGERS,
    RedactedLog,
    redact_urls,
    redacted,
    without_secrets,
)
from tocsin.paging.delivery import Delivery
from tocsin.paging.models import Channel

TIMEOUT_SECONDS = 10.0

# Apprise (and the HTTP clients under it) name the URLs they send to in their log lines,
# and Apprise's become the errors Tocsin shows: both without the URLs' secrets.
for _name in SENDING_LOGGERS:
    logging.getLogger(_name).addFilter(RedactedLog())

# What may not stand in a header: a line break would end it (and raise in the builder).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:[:.][A-Za-z0-9_-]+)*$")


class DeliveryError(Exception):
    """Why a send failed, in words for the timeline."""

    # A failure that another attempt cannot mend: recorded and given up at once.
    permanent = False


class RefusedDestination(DeliveryError):
    """The address is internal and no allowlist names it: the same words whatever the port
    answers, so "Send test" tells nothing of what listens there."""

    permanent = True

    def __init__(self) -> None:
        super().__init__(outbound.REFUSED)


def send(delivery: Delivery, settings: Settings) -> None:
    if delivery.channel == Channel.EMAIL:
        send_email(delivery, settings)  # the operator's own SMTP server: not a user's address
        return
    # Webhooks and Apprise URLs are addresses a user typed: every connection is checked.
    with outbound.guarded(settings.outbound_allowlist()) as guard:
        try:
            if delivery.channel == Channel.WEBHOOK:
                send_webhook(delivery)
            elif delivery.channel == Channel.APPRISE:
                send_apprise(delivery)
            else:
                raise DeliveryError(f"unknown channel {delivery.channel!r}")
        except Exception:
            if guard.refused:
                raise RefusedDestination() from None
            raise


def shown(delivery: Delivery, settings: Settings) -> str:
    """Where a delivery goes, as logs may say it: never a password or a token."""
    if delivery.channel == Channel.EMAIL:
        server = redacted(settings.smtp_url) if settings.smtp_url else "no SMTP server"
        return f"email to {delivery.address} via {server}"
    return f"{delivery.channel} {redacted(delivery.address)}"


def failure_text(failure: Exception, delivery: Delivery) -> str:
    """What went wrong, for the timeline and the log, without the address's secrets."""
    if isinstance(failure, DeliveryError):
        text = str(failure)
    else:  # a message that could not even be built (or a bug): still this attempt's failure
        text = f"could not send it: {type(failure).__name__}: {failure}"
    return redact_urls(without_secrets(text, delivery.address))


def one_line(value: str) -> str:
    """A header's value: line breaks and other control characters (a newline in an alert's
    title, a CRLF in a summary) folded to a space, so the page still goes out."""
    return _CONTROL.sub(" ", value).strip()


def message_id(idempotency_key: str, mail_from: str) -> str:
    """The same Message-ID for every send of one notification, so mail clients fold a repeat."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    if not _PLAIN_KEY.match(domain):
        domain = "tocsin.invalid"
    if _PLAIN_KEY.match(idempotency_key):
        left = idempotency_key.replace(":", ".")
    else:
        left = "tocsin." + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{left}@{domain}>"


def email_of(delivery: Delivery, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = one_line(settings.mail_from)
    message["To"] = one_line(delivery.address)
    message["Subject"] = one_line(delivery.title)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery.idempotency_key, settings.mail_from)
    message["X-Tocsin-Idempotency-Key"] = one_line(delivery.idempotency_key)
    # Extra headers a sender asks for (List-Unsubscribe on status page subscriber mail).
    for name, value in (delivery.data.get("email_headers") or {}).items():
        message[one_line(name)] = one_line(str(value))
    message.set_content(delivery.body)
    # Headers fold at 998, not 78: a long List-Unsubscribe URL must stay literal, as mail
    # clients read it, not RFC 2047-encoded (the body is already encoded by now).
    message.policy = message.policy.clone(max_line_length=998)
    return message


def send_email(delivery: Delivery, settings: Settings) -> None:
    if not settings.smtp_url:
        raise DeliveryError("no SMTP server is configured (set TOCSIN_SMTP_URL)")
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps"):
        raise DeliveryError("TOCSIN_SMTP_URL must start with smtp:// or smtps://")
    message = email_of(delivery, settings)
    port = url.port or (465 if url.scheme == "smtps" else 25)
    client_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    try:
        with client_class(url.hostname or "localhost", port, timeout=TIMEOUT_SECONDS) as smtp:
            if url.scheme == "smtp" and parse_qs(url.query).get("starttls") == ["true"]:
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as failure:
        raise DeliveryError(f"the SMTP server refused or could not be reached: {failure}") from None


def send_webhook(delivery: Delivery) -> None:
    body = {
        "title": delivery.title,
        "body": delivery.body,
        **delivery.data,
        "idempotency_key": delivery.idempotency_key,
    }
    headers = {"Idempotency-Key": one_line(delivery.idempotency_key), "User-Agent": "Tocsin"}
    try:
        answer = httpx2.post(delivery.address, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx2.InvalidURL as failure:
        raise DeliveryError(f"the webhook address is not a valid URL: {failure}") from None
    except httpx2.HTTPError as failure:
        raise DeliveryError(f"the webhook could not be reached: {failure}") from None
    if not 200 <= answer.status_code < 300:
        raise DeliveryError(f"the webhook answered {answer.status_code}")


def send_apprise(delivery: Delivery) -> None:
    import apprise

    # Sequential: the guard on connections holds in this thread, not in Apprise's pool.
    sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    if not sender.add(delivery.address):
        raise DeliveryError("not an Apprise URL Tocsin can use")
    with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured:
        sent = sender.notify(title=delivery.title, body=delivery.body)
    if not sent:
        detail = captured.getvalue().strip().splitlines()
        raise DeliveryError(f"Apprise could not deliver: {detail[-1] if detail else 'no detail'}")
