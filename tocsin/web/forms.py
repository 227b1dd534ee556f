"""Reading HTML forms into the same schemas the API uses, so both ways in share one set of rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from tocsin.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

# How a form field is named to the person who filled it in.
FIELD_NAMES = {
    "summary": "Summary",
    "severity": "Severity",
    "description": "Description",
    "service_id": "Faulty service",
    "product_ids": "Affected products",
    "resolution_summary": "What resolved it",
    "reason": "The reason",
    "to_user_id": "The new incident manager",
    "user_id": "The person",
    "impact_started_at": "Impact start",
    "detected_at": "Detection time",
}


async def read_form(request: Request) -> FormData:
    return await request.form()


# Views take the form through this dependency and stay plain functions, so their
# database and password work runs in the thread pool, not on the event loop.
FormBody = Annotated[FormData, Depends(read_form)]


def _message(field: str | None, error: ErrorDetails) -> str:
    """Pydantic's wording, said the way a form would say it."""
    name = (field or "value").split(".", 1)[0]  # "product_ids.0" is still the products field
    label = FIELD_NAMES.get(name, name.replace("_", " ").capitalize())
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return f"{label} is required."
    if kind == "string_too_long":
        return f"{label} is too long: at most {context.get('max_length')} characters."
    if kind == "enum":
        return f"{label}: choose {context.get('expected', 'one of the options')}."
    if kind == "too_short" and context.get("min_length") == 1:
        return f"{label}: choose at least one."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label}: enter a whole number."
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return f"{label}: enter a number."
    limits = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in limits:
        words, bound = limits[kind]
        limit = context.get(bound)
        return f"{label}: {words} {f'{limit:g}' if isinstance(limit, float) else limit}."
    if kind.startswith(("datetime_", "date_", "time_")):
        return f"{label}: enter a date and time."
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{label}: {message}"


def parse(model: type[M], values: dict[str, Any]) -> M:
    """Validates form values; the first problem becomes an InvalidInput naming its field.

    Not strict: a form's values are all text, so "5" is read as 5 and "on" as true."""
    try:
        return model.model_validate(values, strict=False)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(_message(field, first), field=field) from None


def text(form: FormData, name: str) -> str:
    """A text value; browsers send textarea line breaks as CRLF, stored as LF."""
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def optional_id(form: FormData, name: str) -> int | str | None:
    """An id from a <select>; the empty option means none."""
    value = text(form, name).strip()
    return value or None


def ids(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def local_datetime(form: FormData, name: str, zone: str) -> datetime | str | None:
    """A <input type=datetime-local> value, read in the user's time zone."""
    value = text(form, name).strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return value  # left for the schema to refuse with a clear message
