"""Who may do what. Checked in the service layer, whichever way the call came in."""

from __future__ import annotations

from tocsin.auth.models import Role, User
from tocsin.errors import Forbidden

_RANK = {Role.VIEWER.value: 0, Role.RESPONDER.value: 1, Role.ADMIN.value: 2}


def has_role(actor: User, role: Role) -> bool:
    return actor.is_active and _RANK.get(actor.role, -1) >= _RANK[role.value]


def require_role(actor: User, role: Role, doing: str = "do this") -> None:
    if not has_role(actor, role):
        raise Forbidden(f"You need the {role.value} role to {doing}; you are a {actor.role}.")


def require_responder(actor: User, doing: str = "change anything") -> None:
    require_role(actor, Role.RESPONDER, doing)


def require_admin(actor: User, doing: str = "do this") -> None:
    require_role(actor, Role.ADMIN, doing)
