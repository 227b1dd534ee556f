"""Bodies for contact methods, notification rules, pages and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from tocsin.auth.schemas import UserRef
from tocsin.paging.addresses import HIDDEN, apprise_understands, redacted
from tocsin.paging.models import Channel, DeliveryStatus, PageStatus
from tocsin.schemas import Id, IdCursor, Input, Integer, Label, Output, Text, email_problem

Address = Annotated[str, Field(min_length=3, max_length=2048)]
# An address as Tocsin shows it back: scheme and host only, the rest (tokens) hidden.
ShownAddress = Annotated[
    str,
    AfterValidator(redacted),
    Field(description="Scheme and host only (json://chat.example:8229/…): never a secret."),
]


class ContactMethodCreate(Input):
    channel: Channel
    address: Address = Field(
        description="An email address, a webhook URL (https://...), or an Apprise URL "
        "(ntfy://topic, slack://..., msteams://..., tgram://..., matrix://...)."
    )
    label: Label = ""

    @model_validator(mode="after")
    def _address_fits_the_channel(self) -> ContactMethodCreate:
        address = self.address.strip()
        if "\x00" in address or any(c.isspace() for c in address):
            raise ValueError("the address must not contain spaces")
        if HIDDEN in address:
            raise ValueError("type the whole address: a shortened one (with …) cannot be used")
        if self.channel is Channel.EMAIL and (problem := email_problem(address)):
            raise ValueError(f"an email contact needs one email address: {problem}")
        if self.channel is Channel.WEBHOOK and not address.startswith(("http://", "https://")):
            raise ValueError("a webhook contact needs an http(s):// URL")
        if self.channel is Channel.APPRISE and "://" not in address:
            raise ValueError("an Apprise contact needs a URL such as ntfy://my-topic")
        if self.channel is Channel.APPRISE and not apprise_understands(address):
            raise ValueError(
                "Apprise does not know this kind of URL: check the service's part before "
                "'://' (ntfy://, slack://, tgram://, ...)"
            )
        self.address = address
        return self


class ContactMethodOut(Output):
    id: int
    channel: Channel
    address: ShownAddress
    label: str
    created_at: datetime


class RuleIn(Input):
    contact_method_id: Id
    delay_minutes: Integer = Field(default=0, ge=0, le=24 * 60)


class RulesReplace(Input):
    rules: list[RuleIn] = Field(max_length=20)


class RuleOut(Output):
    id: int
    contact_method: ContactMethodOut
    delay_minutes: int


class Target(Input):
    kind: Literal["user", "schedule", "team", "service"]
    id: Id


class PageRequest(Input):
    """The incident manager pages anyone: people, a team, a schedule's on-call, or a service."""

    targets: list[Target] = Field(min_length=1, max_length=20)
    message: Text = ""


class PageOut(Output):
    id: int
    subject_type: str
    subject_id: int
    subject_key: str
    title: str
    severity: str
    message: str
    status: PageStatus
    level_index: int
    round: int
    next_step_at: datetime | None
    created_at: datetime
    created_by: UserRef | None
    ended_at: datetime | None
    ended_by: UserRef | None
    targets: list[dict[str, Any]]


class NotificationOut(Output):
    id: int
    purpose: str
    channel: Channel
    address: ShownAddress
    label: str
    title: str
    status: DeliveryStatus
    attempts: int
    due_at: datetime
    last_error: str
    sent_at: datetime | None
    created_at: datetime
    subject_type: str | None
    subject_id: int | None


class NotificationQuery(Input):
    """A page of your notifications, newest first, as every list pages (a query string)."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: IdCursor | None = None
