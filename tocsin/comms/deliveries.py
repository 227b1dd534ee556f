"""How each stakeholder update reached its channels: delivered, retrying, or given up.

An update goes out to its channels through the outbox; a channel that fails is retried
for a while. Whoever sends updates must see that "#broken" has not had update 3 yet,
and why, without reading the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.comms.models import StakeholderUpdate
from tocsin.paging.addresses import redacted
from tocsin.paging.models import DeliveryStatus, Notification

PURPOSE = "stakeholders"


def idempotency_key(update_id: int, channel_id: int) -> str:
    return f"stakeholder-update:{update_id}:channel:{channel_id}"


@dataclass(frozen=True)
class ChannelDelivery:
    """One update to one channel, as the people on the incident read it."""

    channel: str  # the channel's name
    shown: str  # its URL's scheme and host only
    state: str  # on_its_way, retrying, delivered, gave_up
    attempts: int
    reason: str  # the last failure, in words; empty when none

    @property
    def words(self) -> str:
        tries = f"{self.attempts} {'try' if self.attempts == 1 else 'tries'}"
        if self.state == "delivered":
            return f"delivered to {self.channel}"
        if self.state == "gave_up":
            return f"not delivered to {self.channel}: gave up after {tries} — {self.reason}"
        if self.state == "retrying":
            return f"not delivered to {self.channel} yet: retrying — {self.reason}"
        return f"on its way to {self.channel}"


def state_of(notification: Notification) -> str:
    if notification.status == DeliveryStatus.SENT.value:
        return "delivered"
    if notification.status == DeliveryStatus.FAILED.value:
        return "gave_up"
    if notification.attempts > 0 and notification.last_error:
        return "retrying"
    return "on_its_way"


def of_updates(
    session: Session, updates: Iterable[StakeholderUpdate]
) -> dict[int, list[ChannelDelivery]]:
    """Each update's deliveries to its channels, in the order the channels were chosen."""
    keys = {
        idempotency_key(update.id, channel["id"]): update.id
        for update in updates
        for channel in update.audiences.get("channels", [])
    }
    if not keys:
        return {}
    query = select(Notification).where(Notification.idempotency_key.in_(list(keys)))
    by_key = {n.idempotency_key: n for n in session.scalars(query)}
    found: dict[int, list[ChannelDelivery]] = {}
    for key, update_id in keys.items():
        n = by_key.get(key)
        if n is None:  # the channel was gone when the update went out
            continue
        found.setdefault(update_id, []).append(
            ChannelDelivery(
                channel=n.label or redacted(n.address),
                shown=redacted(n.address),
                state=state_of(n),
                attempts=n.attempts,
                reason=n.last_error,
            )
        )
    return found
