"""Reading HTML forms into the same schemas the API uses, so both ways in share one set of rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from tocsin.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


async def read_form(request: Request) -> FormData:
    return await request.form()


# Views take the form through this dependency and stay plain functions, so their
# database and password work runs in the thread pool, not on the event loop.
FormBody = Annotated[FormData, Depends(read_form)]


def parse(model: type[M], values: dict[str, Any]) -> M:
    """Validates form values; the first problem becomes an InvalidInput naming its field."""
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(
            f"{(field or 'value').replace('_', ' ')}: {message}", field=field
        ) from None


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


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
