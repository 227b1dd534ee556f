"""Sections a higher domain adds to a lower domain's page, without the lower one importing it.

The incident page, say, shows when the next stakeholder update is due: comms stands
above incidents, so comms registers a section here at import and the incident page
asks for every registered section's template context when it renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from tocsin.auth.models import User

Section = Callable[[Request, Session, User, Any], dict[str, Any]]

_sections: dict[str, list[Section]] = {}


def add_section(page: str, section: Section) -> None:
    """`section(request, session, user, subject)` returns context for `page`'s template."""
    registered = _sections.setdefault(page, [])
    if section not in registered:
        registered.append(section)


def context_for(page: str, request: Request, session: Session, user: User, subject: Any) -> dict:
    context: dict[str, Any] = {}
    for section in _sections.get(page, []):
        context.update(section(request, session, user, subject))
    return context
