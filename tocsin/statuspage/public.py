"""The public status pages: the HTML page, one incident, the history, the Atom feed and the
Statuspage v2 JSON. No login for public pages; a private page needs a logged-in user.

Every answer comes from the page cache (cache.py); these routes only fill it. Once a
document is in the cache, `PublicFastPath` answers for it without reaching them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from tocsin.deps import DbSession, current_user
from tocsin.errors import NotFound
from tocsin.statuspage import feed, pages, snapshot, v2
from tocsin.statuspage.cache import Draw, Drawn, StatusCache, answer

router = APIRouter(include_in_schema=False)

SlugPath = Annotated[str, Path(max_length=64, description="The status page's address.")]
CodePath = Annotated[str, Path(max_length=12, description="An incident's public id.")]
HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"
READ = ["GET", "HEAD"]


def serve(request: Request, session: Session, slug: str, name: str, draw: Draw) -> Response:
    """One document of a page, from the cache; a private page first asks who is reading."""
    cache: StatusCache = request.app.state.status_cache
    entry = cache.page(session, slug.lower())
    if not entry.public:
        current_user(request, session, None)
    rendered = cache.document(session, entry, name, request.url.path, draw)
    status, headers, body = answer(rendered, request.headers, request.method == "HEAD")
    response = Response(content=body, status_code=status)
    response.raw_headers = list(headers)
    return response


def _day_start(snap: snapshot.Snapshot, at: datetime) -> datetime:
    return pages.next_midnight(snap, at) - timedelta(days=1)


def draw_page(_session: Session, snap: snapshot.Snapshot, at: datetime) -> Drawn:
    return Drawn(
        pages.status_page(snap, at),
        HTML,
        stale_at=pages.next_midnight(snap, at),
        day_start=_day_start(snap, at),
    )


def draw_history(_session: Session, snap: snapshot.Snapshot, _at: datetime) -> Drawn:
    return Drawn(pages.history_page(snap), HTML)


def draw_feed(_session: Session, snap: snapshot.Snapshot, _at: datetime) -> Drawn:
    return Drawn(feed.history(snap), ATOM, cross_origin=True)


def draw_incident(code: str) -> Draw:
    def draw(session: Session, snap: snapshot.Snapshot, _at: datetime) -> Drawn:
        item = next((i for i in (*snap.incidents, *snap.maintenances) if i.code == code), None)
        if item is None:
            item = snapshot.one_incident(session, snap.page.id, code)
        return Drawn(pages.incident_page(snap, item), HTML)

    return draw


def draw_document(make: Callable[[snapshot.Snapshot], v2.Document]) -> Draw:
    def draw(_session: Session, snap: snapshot.Snapshot, _at: datetime) -> Drawn:
        return Drawn(v2.encode(make(snap)), JSON, cross_origin=True)

    return draw


@router.api_route("/status/{slug}", methods=READ)
def status_page(slug: SlugPath, request: Request, session: DbSession) -> Response:
    return serve(request, session, slug, "page", draw_page)


@router.api_route("/status/{slug}/history", methods=READ)
def history(slug: SlugPath, request: Request, session: DbSession) -> Response:
    return serve(request, session, slug, "history", draw_history)


@router.api_route("/status/{slug}/history.atom", methods=READ)
def history_feed(slug: SlugPath, request: Request, session: DbSession) -> Response:
    return serve(request, session, slug, "history.atom", draw_feed)


@router.api_route("/status/{slug}/incidents/{code}", methods=READ)
def incident(slug: SlugPath, code: CodePath, request: Request, session: DbSession) -> Response:
    if not code.isalnum():
        raise NotFound("No such incident on this status page.", field="code")
    return serve(request, session, slug, f"incident:{code.lower()}", draw_incident(code.lower()))


def _json_route(file_name: str, make: Callable[[snapshot.Snapshot], v2.Document]) -> None:
    draw = draw_document(make)

    def document(slug: SlugPath, request: Request, session: DbSession) -> Response:
        return serve(request, session, slug, file_name, draw)

    document.__name__ = "statuspage_v2_" + file_name.replace("/", "_").replace("-", "_")[:-5]
    document.__doc__ = f"Statuspage v2 {file_name}."
    router.add_api_route(f"/status/{{slug}}/api/v2/{file_name}", document, methods=READ)


for _file_name, _make in v2.DOCUMENTS.items():
    _json_route(_file_name, _make)
from tocsin.statuspage import public_subscribe  # noqa: E402  (the subscribe form and mailed links)

router.include_router(public_subscribe.router)
