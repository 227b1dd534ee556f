"""Schema building blocks shared by every domain's `schemas.py`.

Inputs are strict: unknown fields are refused, strings are trimmed, bounded and
may not contain NUL (PostgreSQL refuses it in text, which would otherwise be a 5xx),
and JSON's types are taken as they are: `true` is no number, `1` and `"yes"` are no
boolean, `"5"` is no integer, a number is no time. Forms, whose values are all text,
are read with `strict=False` (web/forms.py); query strings use the `Query...` types.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

from tocsin.db import as_utc

T = TypeVar("T")

MAX_EMAIL_LENGTH = 254
WEB_ADDRESS_PATTERN = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def email_problem(value: str) -> str | None:
    """Why `value` is not one email address, if it is not. email-validator, a well-kept
    library, rather than a pattern: a pattern took `me@example.org,postmaster`, and mail then
    went to both. No DNS lookup (deliverability is the mail server's business)."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as bad:
        return str(bad)
    return None


def _email(value: str) -> str:
    if problem := email_problem(value):
        raise ValueError(f"is not an email address: {problem}")
    value = value.lower()
    # Lowercasing can lengthen a string ("İ" becomes two characters): check the stored form.
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValueError(f"is longer than {MAX_EMAIL_LENGTH} characters")
    return value


def _web_address(value: str) -> str:
    if value and not WEB_ADDRESS_PATTERN.match(value):
        raise ValueError("must start with http:// or https://")
    return value


# Times people enter: a range every time zone can show and no date arithmetic overflows.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2200, 12, 31)


def _in_range(value: datetime) -> datetime:
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


def _not_bool(value: object) -> object:
    """JSON true/false is not an id, though Python would take it for 1 or 0."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def _not_a_number(value: object) -> object:
    """A time arrives as ISO 8601 text; a bare number would be read as seconds since 1970."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 time such as 2026-03-02T09:00:00Z, not a number")
    return value


def _time_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("is not a known IANA time zone, e.g. Europe/Berlin")
    return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
        _ZONES.add("UTC")
    return _ZONES


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(_no_nul),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Text = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_no_nul)]
# A line a person says (in the incident room): trimmed, never empty, bounded, never NUL.
REMARK_LIMIT = 4000
Remark = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REMARK_LIMIT),
    AfterValidator(_no_nul),
]
# An optional short label ("phone push", a layer's name): may be empty, never NUL.
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=120), AfterValidator(_no_nul)
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_EMAIL_LENGTH),
    AfterValidator(_no_nul),
    AfterValidator(_email),
]
# A link people open (a page, a video call): http(s) only, or empty for none.
WebAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    AfterValidator(_no_nul),
    AfterValidator(_web_address),
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=200), AfterValidator(_no_nul)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
# Free text in a query string (search boxes): bounded, and no NUL for PostgreSQL to refuse.
SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
# A moment as it arrives from outside: stored in UTC (a naive time is taken as UTC), bounded.
Moment = Annotated[
    datetime,
    BeforeValidator(_not_a_number),
    AfterValidator(as_utc),
    AfterValidator(_in_range),
]
# Numbers and yes/no in a JSON body: of JSON's own type, never converted from another.
Integer = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]
# Ids as they arrive from outside: bounded so PostgreSQL's bigint never overflows.
MAX_ID = 2**53
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID), BeforeValidator(_not_bool)]
# An id in a query string, which is text.
QueryId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_not_bool)]


# The cursor of a list ordered by id, newest first: the last id of the previous page.
IdCursor = Annotated[
    str,
    StringConstraints(max_length=16, pattern=r"^[1-9][0-9]{0,15}$"),
    Field(description="next_cursor from the previous page."),
]


class Input(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    """One page of a list, with the cursor for the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None
