"""Passwords (argon2) and random secrets (API tokens, login sessions, integration keys).

High-entropy secrets are stored as SHA-256 digests and found by a public lookup
part, then compared in constant time; passwords get argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# <prefix>_<16 hex digits>_<token_urlsafe>; the secret itself may contain "_".
_KEYED_SECRET = re.compile(
    r"(?P<prefix>[a-z]+)_(?P<lookup>[0-9a-f]{16})_(?P<secret>[\w-]{1,200})", re.A
)
# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only here to spend the time")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)


def same_token(given: str, expected: str) -> bool:
    """Constant-time equality of two submitted strings (CSRF tokens).

    Compared as bytes: `hmac.compare_digest` refuses non-ASCII str, and a
    forged token may contain anything.
    """
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def new_keyed_secret(prefix: str) -> tuple[str, str, str]:
    """A token `<prefix>_<lookup>_<secret>` with its lookup part and the secret's digest."""
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{prefix}_{lookup}_{secret}", lookup, digest(secret)


def split_keyed_secret(token: str, prefix: str) -> tuple[str, str] | None:
    """(lookup, secret) of a well-formed token, else None.

    Only the characters `new_keyed_secret` makes get through, so whatever a caller
    sends (a NUL, say, which PostgreSQL refuses in text) never reaches a query.
    """
    match = _KEYED_SECRET.fullmatch(token)
    if match is None or match["prefix"] != prefix:
        return None
    return match["lookup"], match["secret"]
