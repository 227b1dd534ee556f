"""Sending one notification: email through SMTP, a JSON webhook, or any Apprise URL.

Every send carries the notification's idempotency key (Message-ID, Idempotency-Key
header), so a receiver can drop the rare duplicate of a retried delivery.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2

from tocsin import outbound
from tocsin.config import Settings
from tocsin.paging.addresses import SENDING_LOGGERS, RedactedLog
from tocsin.paging.models import Channel
from tocsin.paging.service import Delivery

TIMEOUT_SECONDS = 10.0

# Apprise (and the HTTP clients under it) name the URLs they send to in their log lines,
# and Apprise's become the errors Tocsin shows: both without the URLs' secrets.
for _name in SENDING_LOGGERS:
    logging.getLogger(_name).addFilter(RedactedLog())


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


def send_email(delivery: Delivery, settings: Settings) -> None:
    if not settings.smtp_url:
        raise DeliveryError("no SMTP server is configured (set TOCSIN_SMTP_URL)")
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps"):
        raise DeliveryError("TOCSIN_SMTP_URL must start with smtp:// or smtps://")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = delivery.address
    message["Subject"] = delivery.title
    message["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "tocsin"
    message["Message-ID"] = make_msgid(
        idstring=delivery.idempotency_key.replace(":", "."), domain=domain
    )
    message["X-Tocsin-Idempotency-Key"] = delivery.idempotency_key
    # Extra headers a sender asks for (List-Unsubscribe on status page subscriber mail).
    for name, value in (delivery.data.get("email_headers") or {}).items():
        message[name] = value
    message.set_content(delivery.body)
    # Headers fold at 998, not 78: a long List-Unsubscribe URL must stay literal, as mail
    # clients read it, not RFC 2047-encoded (the body is already encoded by now).
    message.policy = message.policy.clone(max_line_length=998)
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
    headers = {"Idempotency-Key": delivery.idempotency_key, "User-Agent": "Tocsin"}
    try:
        answer = httpx2.post(delivery.address, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
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
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
        sent = sender.notify(title=delivery.title, body=delivery.body)
    if not sent:
        detail = captured.getvalue().strip().splitlines()
        raise DeliveryError(f"Apprise could not deliver: {detail[-1] if detail else 'no detail'}")
