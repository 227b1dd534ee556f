"""Paths that carry a secret (integration keys, one-click links, subscription and calendar-feed
tokens), as they may be written to a log: the secret part replaced.

Logs are read by more people than hold the keys, and kept longer: a key in an access log
line is a key anyone with the log can post alerts with or acknowledge pages with.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "…"

# The path segment after each of these is a secret.
_SECRET_SEGMENT = re.compile(
    r"^(?P<route>/integrations/(?:alertmanager|webhook)/|/heartbeats/|/respond/"
    r"|/status/[^/?]+/subscriptions/)(?P<token>[^/?#]*)"
)
# ... and so are these query parameters (calendar feeds take `?token=`).
_SECRET_QUERY = re.compile(r"(?P<name>[?&](?:token|routing_key)=)[^&#]*")
# An integration key's first characters are its public lookup part.
_KEY_LOOKUP = 12


def _hidden(token: str) -> str:
    """The token's public part, if it has one, then HIDDEN: `act_<lookup>_…`, or an
    integration key's 12-character lookup part."""
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0].isalpha():
        return f"{parts[0]}_{parts[1]}_{HIDDEN}"
    if len(token) > _KEY_LOOKUP:
        return token[:_KEY_LOOKUP] + HIDDEN
    return HIDDEN if token else token


def path_for_log(path: str) -> str:
    """`path` (with its query, if any) with every secret in it replaced."""
    path = _SECRET_SEGMENT.sub(lambda m: m["route"] + _hidden(m["token"]), path, count=1)
    if "=" in path:
        path = _SECRET_QUERY.sub(lambda m: m["name"] + HIDDEN, path)
    return path


class SecretsOutOfAccessLog(logging.Filter):
    """Uvicorn's access log line with the path's secrets replaced (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], path_for_log(args[2]), *args[3:])
        return True


def keep_secrets_out_of_access_log() -> None:
    """Once per process, whoever serves the app (`tocsin serve`, uvicorn by hand)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, SecretsOutOfAccessLog) for f in access.filters):
        access.addFilter(SecretsOutOfAccessLog())
