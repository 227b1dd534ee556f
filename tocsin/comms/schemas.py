"""Bodies for stakeholder channels and updates (Tocsin's API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from tocsin.auth.schemas import UserRef
from tocsin.paging.addresses import HIDDEN, apprise_understands
from tocsin.schemas import MAX_ID, Id, Input, Integer, Name, Output, Remark, Text
from tocsin.statuspage.workflow import IncidentStatus

Ids = Annotated[list[Id], Field(max_length=100)]

# What an update may say of the affected components; under_maintenance is for maintenances.
ComponentsNow = Literal[
    "keep", "operational", "degraded_performance", "partial_outage", "major_outage"
]


def apprise_url(value: str) -> str:
    """A URL Apprise can send to, typed in full (never one shortened for showing)."""
    return _apprise_url(value)


def _apprise_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep or not scheme.replace("+", "").isalnum() or not rest.strip():
        raise ValueError("must be an Apprise URL such as slack://TokenA/TokenB/TokenC/#incidents")
    if any(ch.isspace() for ch in value) or "\x00" in value:
        raise ValueError("must not contain spaces")
    if HIDDEN in value:
        raise ValueError("type the whole URL: a shortened one (with …) cannot be used")
    if not apprise_understands(value):
        raise ValueError("Apprise does not know this kind of URL: check the part before '://'")
    return value


AppriseUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=2048),
    AfterValidator(_apprise_url),
]


class ChannelCreate(Input):
    name: Name = Field(description='What people call it, e.g. "#incidents on Slack".')
    url: AppriseUrl = Field(description="An Apprise URL; stored, never shown back in full.")


class ChannelEdit(Input):
    """A new name, a new URL, or both. A URL left out, empty, or sent back as it was shown
    (`json://host/…`) keeps the stored one: nobody retypes a token to rename a channel."""

    name: Name | None = None
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None = None


class ChannelOut(Output):
    id: int
    name: str
    kind: str = Field(description="The URL's scheme: slack, msteams, mailto, json, ...")
    shown: str = Field(description="The URL's scheme and host only (json://host:8229/…).")
    created_at: datetime


class UpdatePost(Input):
    channel_ids: Ids = Field(default_factory=list, description="Stakeholder channels.")
    page_ids: Ids = Field(
        default_factory=list,
        description="Status pages: private ones get `body`, public ones `public_body`.",
    )
    body: Text = Field(default="", description="For internal stakeholders.")
    public_body: Text = Field(default="", description="For public status pages.")
    page_status: IncidentStatus | None = Field(
        default=None,
        description="The pages' incident status (e.g. monitoring); by default it follows the "
        "Tocsin incident's: open is investigating, fixing is identified.",
    )
    component_status: ComponentsNow = Field(
        default="keep",
        description="The status of the components the incident affects on the chosen pages "
        "(those its page incident holds and those backed by its service); the page "
        "incident's impact follows it. `keep` leaves them, except that a page's first update "
        "sets them from the severity and a resolution restores them to operational.",
    )


class ChannelDeliveryOut(Output):
    channel: str = Field(description="The channel's name.")
    shown: str = Field(description="Its URL's scheme and host only.")
    state: Literal["on_its_way", "retrying", "delivered", "gave_up"]
    attempts: int
    reason: str = Field(description="The last failure, in words; empty when none.")
    words: str = Field(description='E.g. "not delivered to #broken yet: retrying — ...".')


class UpdateOut(Output):
    id: int
    incident_key: str
    author: UserRef | None
    audiences: dict[str, Any]
    body: str
    public_body: str
    sent_at: datetime
    deliveries: list[ChannelDeliveryOut] = Field(
        default_factory=list, description="How the update reached each of its channels."
    )


class AudienceOut(Output):
    kind: str = Field(description="channel, private_page or public_page")
    id: int
    name: str


class DraftOut(Output):
    incident_key: str
    title: str
    body: str
    public_body: str
    audiences: list[AudienceOut]
    next_update_due_at: datetime | None = Field(
        description="When the next update is due (null: this incident keeps no cadence)."
    )


# ---------------------------------------------------------------- the incident room


class MessagePost(Input):
    body: Remark = Field(description="What you say in the incident room (up to 4,000).")


class MessageOut(Output):
    id: int
    incident_key: str
    author: UserRef | None = Field(description="Null when the person was since removed.")
    body: str
    posted_at: datetime


class MessageQuery(Input):
    """`after`: only what came after the message with this id, as a live view polls."""

    after: int | None = Field(default=None, ge=0, le=MAX_ID)
    limit: int = Field(default=100, ge=1, le=500)


# ---------------------------------------------------------------- the state document


class StateSave(Input):
    body: Text = Field(description="The whole document as it should read now.")
    base_version: Integer = Field(
        ge=0,
        le=1_000_000,
        description="The version you edited (0 for the first). If someone saved since, "
        "the answer is 409 and nothing is overwritten.",
    )


class StateOut(Output):
    incident_key: str
    version: int = Field(description="0 while nobody has written it yet.")
    body: str
    saved_by: UserRef | None
    saved_at: datetime | None
