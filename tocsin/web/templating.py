"""The Jinja environment and `render`, which every view uses to draw a page.

Each domain keeps its templates in its own `templates/` folder, reached as
"<domain>/<file>"; the layout and shared macros live in `web/templates/`.
"""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("auth", "catalogue", "incidents")
FLASH_COOKIE = "tocsin_flash"


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
    """'3d 4h', '2h 05m', '7m', 'just now': short enough for a phone."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "just now" if seconds >= 0 else "in the future"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def build_environment() -> Environment:
    env = Environment(loader=_loader(), autoescape=select_autoescape(["html"]))
    env.filters["since"] = lambda value: duration(now() - value) if value else ""
    env.filters["duration"] = duration
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


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    page = {
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "flash": unquote(request.cookies.get(FLASH_COOKIE, "")),
        "local_time": lambda value, fmt="%Y-%m-%d %H:%M %Z": local_time(request, value, fmt),
        "now": now(),
        "path": request.url.path,
    }
    page.update(context or {})
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if page["flash"]:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, flash: str = "") -> RedirectResponse:
    """Post/redirect/get, carrying a one-time message to the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="lax")
    return response


def render_error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)
