"""The domain errors and the one JSON error shape of the whole API.

Services raise these; `api.py` and `views.py` never build error bodies by hand.
Shape: {"error": {"code": "...", "message": "...", "field": "..." | null}}
"""

from __future__ import annotations

from typing import Any


class TocsinError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field)


class InvalidInput(TocsinError):
    status_code = 422
    code = "invalid"


class Unauthenticated(TocsinError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(TocsinError):
    status_code = 403
    code = "forbidden"


class NotFound(TocsinError):
    status_code = 404
    code = "not_found"


class Conflict(TocsinError):
    status_code = 409
    code = "conflict"


class TooLarge(TocsinError):
    status_code = 413
    code = "too_large"


class TooManyAttempts(TocsinError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}
