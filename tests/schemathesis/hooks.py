"""Loaded by the schemathesis process (SCHEMATHESIS_HOOKS): a token that survives the fuzzing.

Generated requests may revoke the admin's own API token, demote or deactivate the admin;
every following request would then test only the 401. Before each batch of requests and
after any 401, the admin is made an active admin again and given a fresh token, straight
in the database the live server uses (TOCSIN_FUZZ_DATABASE_URL, TOCSIN_FUZZ_USER_ID).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.db import Database

_database: Database | None = None


def _db() -> Database:
    global _database
    if _database is None:
        _database = Database(os.environ["TOCSIN_FUZZ_DATABASE_URL"])
    return _database


@schemathesis.auth(refresh_interval=2, retry_on=[401])
class AdminToken:
    def get(self, case: Any, context: Any) -> str:
        with _db().begin() as session:
            admin = session.get(User, int(os.environ["TOCSIN_FUZZ_USER_ID"]))
            assert admin is not None, "the fuzzing admin was removed"
            admin.role = Role.ADMIN.value
            admin.is_active = True
            _token, plaintext = auth.create_token(session, admin, "schemathesis")
            return plaintext

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
