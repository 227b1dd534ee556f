"""The OpenAPI document as the API really answers: its one error shape, not FastAPI's default.

FastAPI documents a 422 `HTTPValidationError` ({"detail": [...]}) that Tocsin never
sends (web/errors.py turns every error into {"error": {...}}), and none of the other
refusals. Generated clients and schemathesis read this document, so it lists what
each operation can refuse with, in the shape it is refused in.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "examples": ["not_found"]},
                "message": {"type": "string"},
                "field": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "description": "The request field at fault, when one is.",
                },
            },
        }
    },
}
# The PagerDuty Events API v2 refusal, which /v2/enqueue speaks (alerts/receivers.py).
PAGERDUTY_ERROR_SCHEMA: dict[str, Any] = {
    "title": "PagerDutyError",
    "type": "object",
    "required": ["status", "message", "errors"],
    "properties": {
        "status": {"type": "string", "examples": ["invalid event"]},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}

WHY = {
    "400": "The body is not JSON, or not what the sender's format allows.",
    "401": "No valid API token or session.",
    "403": "Your role may not do this.",
    "404": "Nothing here, or nothing you may see.",
    "409": "This conflicts with what is stored now (a name in use, a move not allowed).",
    "413": "The request body is over 1 MB.",
    "415": "The body is not sent as JSON.",
    "422": "A value is missing or not allowed; `field` names it.",
    "429": "Too many requests; retry after Retry-After seconds.",
    "503": "Busy or not ready; retry later.",
}
EVERY_OPERATION = ("400", "401", "403", "404", "409", "422", "429")
WITH_A_BODY = ("413", "415")
PAGERDUTY = "/v2/enqueue"
# Readiness answers 503 while the database is unreachable or its schema behind the code.
NOT_READY = "/readyz"
# Sender endpoints: a key in the path instead of a login, and their own refusals.
SENDERS = ("/integrations/", "/heartbeats/")


def documented_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every operation's error answers described as they are."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR_SCHEMA
    components["PagerDutyError"] = PAGERDUTY_ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            operation["responses"] = _with_errors(path, method, operation)
    app.openapi_schema = schema
    return schema


def _with_errors(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    responses = {
        status: answer
        for status, answer in operation.get("responses", {}).items()
        if not _is_fastapi_validation_error(answer)
    }
    has_body = method in ("post", "put", "patch") or "requestBody" in operation
    if path == PAGERDUTY:
        statuses = ("400", "405", "413", "429", "503")
        shape = "#/components/schemas/PagerDutyError"
    elif path == NOT_READY:
        statuses = ("503",)
        shape = "#/components/schemas/Error"
    elif path.startswith(SENDERS):
        statuses = ("400", "404", "413", "422", "429", "503") if has_body else ("404",)
        shape = "#/components/schemas/Error"
    else:
        statuses = EVERY_OPERATION + (WITH_A_BODY if has_body else ())
        shape = "#/components/schemas/Error"
    for status in sorted(statuses):
        responses.setdefault(
            status,
            {
                "description": WHY.get(status, "Method not allowed on this path."),
                "content": {"application/json": {"schema": {"$ref": shape}}},
            },
        )
        if status == "429" or (status == "503" and path != NOT_READY):
            responses[status]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            }
    return responses


def _is_fastapi_validation_error(answer: dict[str, Any]) -> bool:
    content = answer.get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError")
