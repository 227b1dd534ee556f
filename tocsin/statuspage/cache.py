"""The herd-proof cache: public status pages and their JSON, served from memory.

During an outage the status page is the most-hit thing the team owns. Each process
keeps, per page, one snapshot of its data and each document drawn from it (HTML, JSON,
Atom; gzipped once), and answers from memory:

- This process's own changes show at once: a commit that changes a page moves the
  process-wide generation on (changes.py), and the next request checks the page again.
- Other processes' changes show within a second: a page not checked for `TTL_SECONDS`
  is checked with one indexed read of its `version`, in the background, while readers
  keep getting the copy they had a moment earlier; only a new version reads the rest.
  However many requests arrive, each process reads a page's version at most once per
  TTL, and no reader waits for it.
- Requests for a page known to be fresh never reach FastAPI: `PublicFastPath`, the
  outermost middleware, answers them from memory.
- ETag (the body's hash) and Last-Modified (the page's last change) answer
  If-None-Match and If-Modified-Since with 304.

Cache-Control. An update must be visible within a second, so a copy may be reused for
at most one second: public pages say `public, max-age=1` (a CDN or proxy in front
then absorbs a herd, and never shows anything older than a second plus our own
check), private pages `private, no-cache` (never in a shared cache; the browser asks
again each time and gets a 304 while nothing changed).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.db import Database, now
from tocsin.errors import NotFound
from tocsin.statuspage import changes, snapshot
from tocsin.statuspage.models import StatusPage

log = logging.getLogger("tocsin.statuspage")

TTL_SECONDS = 0.5
# A page that is only old by time may be served this long past its TTL while one background
# check reads its version: no reader waits on the database, and nothing is older than a second.
STALE_GRACE_SECONDS = 0.5
PUBLIC_CACHE_CONTROL = b"public, max-age=1"
PRIVATE_CACHE_CONTROL = b"private, no-cache"
GZIP_AT_LEAST = 1024
MAX_ENTRIES = 2000
MAX_PATHS = 20_000

Draw = Callable[[Session, snapshot.Snapshot, datetime], "Drawn"]


@dataclass(frozen=True)
class Drawn:
    """What a document's drawing gives back."""

    body: bytes
    content_type: str
    # Drawn again after this time even if nothing changed (the day bars at midnight).
    stale_at: datetime | None = None
    # Anyone may read it from another site (the JSON and the feed, for widgets).
    cross_origin: bool = False
    # The start of the day it shows (day bars change at midnight without any write): its
    # Last-Modified is at least this.
    day_start: datetime | None = None


@dataclass
class Rendered:
    """One document of one page version, with its answers ready to send."""

    body: bytes
    gzipped: bytes | None
    etag: bytes
    last_modified: datetime
    stale_at: datetime | None
    plain: list[tuple[bytes, bytes]]
    packed: list[tuple[bytes, bytes]]
    unchanged: list[tuple[bytes, bytes]]


@dataclass
class PageEntry:
    slug: str
    page_id: int = 0
    version: int = -1
    public: bool = False
    missing: bool = False
    updated_at: datetime | None = None
    checked_at: datetime | None = None
    generation: int = -1
    checking: bool = False
    snap: snapshot.Snapshot | None = None
    rendered: dict[str, Rendered] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _http_date(value: datetime) -> bytes:
    return format_datetime(value.replace(microsecond=0), usegmt=True).encode()


def _render(drawn: Drawn, last_change: datetime, public: bool) -> Rendered:
    body = drawn.body
    packed_body = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_AT_LEAST else None
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    last_modified = last_change.astimezone(UTC).replace(microsecond=0)
    common = [
        (b"etag", etag),
        (b"last-modified", _http_date(last_modified)),
        (b"cache-control", PUBLIC_CACHE_CONTROL if public else PRIVATE_CACHE_CONTROL),
        (b"vary", b"Accept-Encoding"),
    ]
    if public and drawn.cross_origin:
        common.append((b"access-control-allow-origin", b"*"))
    kind = (b"content-type", drawn.content_type.encode())
    plain = [kind, (b"content-length", str(len(body)).encode()), *common]
    packed = (
        [
            kind,
            (b"content-length", str(len(packed_body)).encode()),
            (b"content-encoding", b"gzip"),
            *common,
        ]
        if packed_body is not None
        else plain
    )
    return Rendered(
        body=body,
        gzipped=packed_body,
        etag=etag,
        last_modified=last_modified,
        stale_at=drawn.stale_at,
        plain=plain,
        packed=packed,
        unchanged=common,
    )


# ---------------------------------------------------------------- conditional requests


def _accepts_gzip(value: str | None) -> bool:
    if not value:
        return False
    for part in value.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _not_modified(
    rendered: Rendered, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    if if_none_match is not None:
        wanted = rendered.etag.decode()
        for tag in if_none_match.split(","):
            tag = tag.strip()
            if tag == "*" or tag.removeprefix("W/") == wanted:
                return True
        return False
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since is None or since.tzinfo is None:
            return False
        return rendered.last_modified <= since
    return False


def answer(
    rendered: Rendered, headers: Mapping[str, str], head: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body for a request with these headers."""
    if _not_modified(rendered, headers.get("if-none-match"), headers.get("if-modified-since")):
        return 304, rendered.unchanged, b""
    if rendered.gzipped is not None and _accepts_gzip(headers.get("accept-encoding")):
        return 200, rendered.packed, b"" if head else rendered.gzipped
    return 200, rendered.plain, b"" if head else rendered.body


# ---------------------------------------------------------------- the cache


class StatusCache:
    """Per-process cache of every status page's documents (see the module's docstring)."""

    def __init__(
        self,
        base_url: str = "",
        db: Database | None = None,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.base_url = base_url
        self.db = db  # for checks in the background; without it, old pages go to the routes
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, PageEntry] = {}
        self._paths: dict[str, tuple[PageEntry, str]] = {}
        self._lock = threading.Lock()

    # -- fresh or not

    def _age(self, entry: PageEntry, at: datetime) -> float | None:
        if entry.checked_at is None or entry.generation != changes.generation():
            return None
        age = (at - entry.checked_at).total_seconds()
        return age if age >= 0 else None  # a clock stepped back: check again

    def _fresh(self, entry: PageEntry, at: datetime) -> bool:
        age = self._age(entry, at)
        return age is not None and age < self.ttl

    def _usable(self, rendered: Rendered | None, at: datetime) -> bool:
        return rendered is not None and (rendered.stale_at is None or at < rendered.stale_at)

    def fast(self, path: str) -> tuple[Rendered | None, PageEntry | None]:
        """A public document that may be sent without waiting for anyone, and the page to check
        in the background if this request is the first to find it old.

        Fresh: sent. Old only by time (past the TTL, within the grace): sent as it is, while
        one background check reads the version; no reader waits on the database. Anything
        else (never drawn, changed in this process, private, too old): None, for the routes.
        """
        found = self._paths.get(path)
        if found is None:
            return None, None
        entry, name = found
        if not entry.public or entry.missing:
            return None, None
        rendered = entry.rendered.get(name)
        at = self.clock()
        if not self._usable(rendered, at):
            return None, None
        age = self._age(entry, at)
        if age is None:
            return None, None
        if age < self.ttl:
            return rendered, None
        if age < self.ttl + STALE_GRACE_SECONDS and self.db is not None:
            if entry.checking:
                return rendered, None
            entry.checking = True  # this request starts the check; the next ones need not
            return rendered, entry
        return None, None

    def check_in_background(self, entry: PageEntry) -> None:
        """Reads the page's version with a session of its own (in a thread of the pool)."""
        try:
            with self.db.session(write=False) as session, entry.lock:
                if not self._fresh(entry, self.clock()):
                    self._check(session, entry)
        except Exception:
            log.exception("checking status page /status/%s failed; readers will retry", entry.slug)
        finally:
            entry.checking = False

    # -- the slow path: in the thread pool, with a database session

    def _entry(self, slug: str) -> PageEntry:
        entry = self._entries.get(slug)
        if entry is None:
            with self._lock:
                entry = self._entries.get(slug)
                if entry is None:
                    if len(self._entries) >= MAX_ENTRIES:
                        self._forget_missing()
                    entry = self._entries[slug] = PageEntry(slug)
        return entry

    def _forget_missing(self) -> None:
        for slug in [s for s, e in self._entries.items() if e.missing]:
            del self._entries[slug]
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
            self._paths.clear()

    def page(self, session: Session, slug: str) -> PageEntry:
        """The page, checked against the database if it was not checked within the TTL."""
        entry = self._entry(slug)
        if not self._fresh(entry, self.clock()):
            with entry.lock:
                if not self._fresh(entry, self.clock()):
                    entry.checking = True
                    try:
                        self._check(session, entry)
                    finally:
                        entry.checking = False
        if entry.missing:
            raise NotFound(f"No status page at /status/{slug}.", field="slug")
        return entry

    def _check(self, session: Session, entry: PageEntry) -> None:
        at = self.clock()
        generation = changes.generation()  # before reading: a commit meanwhile is seen next time
        row = session.execute(
            select(
                StatusPage.id, StatusPage.version, StatusPage.public, StatusPage.updated_at
            ).where(StatusPage.slug == entry.slug)
        ).first()
        session.rollback()  # the read is over: end its transaction (and snapshot) now
        if row is None:
            entry.missing, entry.snap, entry.rendered = True, None, {}
        elif (row.id, row.version) != (entry.page_id, entry.version) or entry.missing:
            entry.page_id, entry.version, entry.public = row.id, row.version, row.public
            entry.updated_at, entry.missing = row.updated_at, False
            entry.snap, entry.rendered = None, {}
        entry.checked_at, entry.generation = at, generation

    def document(
        self, session: Session, entry: PageEntry, name: str, path: str, draw: Draw
    ) -> Rendered:
        """A document of the page, drawn from its snapshot unless already drawn."""
        rendered = entry.rendered.get(name)
        at = self.clock()
        if self._usable(rendered, at):
            return rendered
        with entry.lock:
            rendered = entry.rendered.get(name)
            if self._usable(rendered, at):
                return rendered
            snap = entry.snap
            if snap is None or snap.page.version < entry.version:
                snap = entry.snap = snapshot.load(session, entry.page_id, self.base_url, at)
            drawn = draw(session, snap, at)
            session.rollback()
            changed = [entry.updated_at, snap.page.updated_at, drawn.day_start]
            rendered = _render(drawn, max(c for c in changed if c is not None), entry.public)
            entry.rendered[name] = rendered
            if len(self._paths) >= MAX_PATHS:
                self._paths.clear()
            self._paths[path] = (entry, name)
            return rendered


# ---------------------------------------------------------------- the fast path


def _request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    wanted = {b"if-none-match", b"if-modified-since", b"accept-encoding"}
    return {name.decode(): value.decode("latin-1") for name, value in raw if name in wanted}


class PublicFastPath:
    """ASGI middleware: GET/HEAD of a public status document that is fresh in the cache is
    answered here, before FastAPI's routing and dependencies; anything else passes on to the
    app, whose routes fill the cache."""

    def __init__(self, app: ASGIApp, cache: StatusCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith("/status/")
        ):
            rendered, to_check = self.cache.fast(scope["path"])
            if to_check is not None:
                loop = asyncio.get_running_loop()
                loop.run_in_executor(None, self.cache.check_in_background, to_check)
            if rendered is not None:
                headers = _request_headers(scope["headers"])
                status, answer_headers, body = answer(rendered, headers, scope["method"] == "HEAD")
                # Inside SecurityHeaders, which adds its headers to these answers too.
                await send(
                    {"type": "http.response.start", "status": status, "headers": answer_headers}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
