"""The Jinja environment and `render`, which every view uses to draw a page.

Each domain keeps its templates in its own `templates/` folder, reached as
"<domain>/<file>"; the layout and shared macros live in `web/templates/`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from tocsin.db import now
from tocsin.errors import TocsinError
from tocsin.paging.addresses import redact_urls, redacted

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = (
    "auth",
    "catalogue",
    "incidents",
    "alerts",
    "paging",
    "statuspage",
    "oncall",
    "comms",
    "reports",
    "postmortems",
)
FLASH_COOKIE = "tocsin_flash"
FLASH_KINDS = frozenset({"ok", "error", "info", "warn"})


def _loader() -> ChoiceLoader:
    prefixed = {d: FileSystemLoader(ROOT / d / "templates") for d in DOMAINS}
    return ChoiceLoader([FileSystemLoader(ROOT / "web" / "templates"), PrefixLoader(prefixed)])


def _zone(request: Request) -> ZoneInfo:
    user = getattr(request.state, "user", None)
    try:
        return ZoneInfo(user.time_zone if user else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def duration(delta: timedelta) -> str:
    """'3d 4h', '2h 05m', '7m', '<1m': short enough for a phone.

    tocsin.js redraws `data-since` durations with the same rules, so keep them in step.
    """
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "<1m" if seconds >= 0 else "in the future"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def ago(value: datetime | None) -> str:
    """'just now', '7m ago', '2h 05m ago'."""
    if value is None:
        return ""
    delta = now() - value
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{duration(delta)} ago"


def build_environment() -> Environment:
    env = Environment(loader=_loader(), autoescape=select_autoescape(["html"]))
    env.filters["since"] = lambda value: duration(now() - value) if value else ""
    env.filters["ago"] = ago
    # A channel's address as it may be shown: scheme and host, never a token or password.
    env.filters["redacted"] = redacted
    # Errors stored before they were cleaned at the source may still quote a whole URL.
    env.filters["redact_urls"] = redact_urls
    env.filters["duration"] = duration
    env.filters["iso"] = lambda value: value.isoformat() if value else ""
    env.filters["urlencode_path"] = lambda value: quote(str(value), safe="")
    return env


templates = Jinja2Templates(env=build_environment())


def local_time(request: Request, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None:
        return ""
    return value.astimezone(_zone(request)).strftime(fmt)


def local_input_value(request: Request, value: datetime | None) -> str:
    """A value for <input type=datetime-local>, in the viewer's time zone."""
    return local_time(request, value, "%Y-%m-%dT%H:%M") if value else ""


def read_flash(request: Request) -> tuple[str, str] | None:
    """The one-time message set by `redirect`, as (kind, text)."""
    raw = unquote(request.cookies.get(FLASH_COOKIE, ""))
    if not raw:
        return None
    kind, separator, message = raw.partition("|")
    if not separator:
        kind, message = "info", raw
    return (kind if kind in FLASH_KINDS else "info", message)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    page = {
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        # For a <script nonce="{{ csp_nonce }}"> that cannot be a file (web/middleware.py).
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "flash": read_flash(request),
        "local_time": lambda value, fmt="%Y-%m-%d %H:%M %Z": local_time(request, value, fmt),
        "now": now(),
        "path": request.url.path,
    }
    page.update(context or {})
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, flash: str = "") -> RedirectResponse:
    """Post/redirect/get, carrying a one-time message ("ok|...", "error|...") to the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="lax")
    return response


def act_and_return(url: str, action: Callable[[], str]) -> RedirectResponse:
    """Runs one form action and returns to `url` saying what happened, or why it was refused."""
    try:
        message = action()
    except TocsinError as refused:
        return redirect(url, f"error|{refused.message}")
    return redirect(url, f"ok|{message}")


def render_error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)
