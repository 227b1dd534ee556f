"""Turns every error into the one JSON shape for the API, or a readable page for the browser."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from tocsin.errors import TocsinError, TooManyAttempts, Unauthenticated, error_body
from tocsin.web.middleware import RefusalShapes
from tocsin.web.secret_paths import path_for_log

log = logging.getLogger("tocsin")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def wants_json(request: Request) -> bool:
    """API callers get JSON; people in a browser get pages."""
    path = request.url.path
    if path.startswith(("/api/", "/v2/", "/integrations/", "/heartbeats/")):
        return True
    return "text/html" not in request.headers.get("accept", "")


REQUEST_PARTS = ("body", "query", "path", "header", "cookie")


def _field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """("body", "summary") is the field "summary"; a field may itself be called "body"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in REQUEST_PARTS:
        parts = parts[1:]
    return ".".join(parts) or None


def validation_error(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    first = exc.errors()[0] if exc.errors() else {"msg": "Invalid request.", "loc": ()}
    kind = first.get("type", "")
    if kind == "json_invalid":
        return 400, error_body("invalid_json", "The request body is not valid JSON.")
    loc = tuple(first.get("loc", ()))
    if loc == ("body",) and isinstance(exc.body, bytes | bytearray):
        # FastAPI parses a body as JSON only when its Content-Type says so.
        return 415, error_body(
            "unsupported_media_type", "Send the body as JSON, with Content-Type: application/json."
        )
    field = _field(loc)
    if kind == "extra_forbidden":
        return 422, error_body("unknown_field", f"Unknown field {field!r}.", field)
    if kind == "missing":
        return 422, error_body("missing", f"{field or 'A JSON body'} is required.", field)
    message = str(first.get("msg", "Invalid value.")).removeprefix("Value error, ")
    if field:
        message = f"{field}: {message}"
    return 422, error_body("invalid", message, field)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers at `path`. Starlette's 405 names only the methods of
    the first route that matched the path, though a path is often served by several.
    Worked out afresh each time: a 405 is rare, and routes may be added after start."""
    methods = {
        method
        for context in iter_route_contexts(app.routes)
        if context.methods and compile_path(context.path)[0].match(path)
        for method in context.methods
    }
    return sorted(methods)


def install_error_handlers(
    app: FastAPI, render_error_page: Any, shapes: RefusalShapes | None = None
) -> None:
    """`render_error_page(request, status, message)` draws the HTML version; `shapes` answers
    the paths that speak someone else's contract in theirs."""
    shapes = shapes or {}

    def respond(request: Request, status: int, body: dict[str, Any]) -> Response:
        if shape := shapes.get(request.url.path):
            return JSONResponse(shape(status, body["error"]["message"]), status_code=status)
        if wants_json(request):
            return JSONResponse(body, status_code=status)
        return render_error_page(request, status, body["error"]["message"])

    @app.exception_handler(TocsinError)
    async def _domain(request: Request, exc: TocsinError) -> Response:
        if isinstance(exc, Unauthenticated) and not wants_json(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        response = respond(request, exc.status_code, exc.body())
        if isinstance(exc, Unauthenticated):
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        status, body = validation_error(exc)
        return respond(request, status, body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"Nothing at {request.url.path}."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; use {' or '.join(allowed)}."
        response = respond(request, exc.status_code, error_body(code, message))
        response.headers.update(headers)
        return response

    @app.exception_handler(IntegrityError)
    async def _constraint(request: Request, exc: IntegrityError) -> Response:
        # The services check uniqueness and references before writing, but a concurrent request
        # can win the race between check and write. The transaction was rolled back.
        log.info(
            "constraint refused %s %s: %s", request.method, path_for_log(request.url.path), exc.orig
        )
        body = error_body(
            "conflict", "This conflicts with what is already stored (a name in use?); retry."
        )
        return respond(request, 409, body)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, path_for_log(request.url.path))
        body = error_body("internal", "Something went wrong on our side; it has been logged.")
        return respond(request, 500, body)
