"""Who may change a schedule or an escalation policy: admins, and responders of the owning team."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.auth import service as auth
from tocsin.auth.models import Role, Team, User
from tocsin.auth.permissions import has_role, require_responder
from tocsin.db import row_named
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound


def may_edit(actor: User, team: Team | None) -> bool:
    """Admins, and responders in the owning team, change a schedule or policy."""
    if not has_role(actor, Role.RESPONDER):
        return False
    return actor.is_admin or _member(actor, team)


def _member(actor: User, team: Team | None) -> bool:
    return team is not None and any(m.id == actor.id for m in team.members)


def require_editor(actor: User, team: Team | None, doing: str) -> None:
    require_responder(actor, doing)
    if actor.is_admin:
        return
    if team is None:
        raise Forbidden(f"Only admins can {doing}: it belongs to no team.")
    if not _member(actor, team):
        raise Forbidden(f"Only admins and members of {team.name} can {doing}.")


def owner_for_input(session: Session, actor: User, team_id: int | None, doing: str) -> Team | None:
    """The owning team a body names; non-admins must name a team of their own."""
    require_responder(actor, doing)
    if team_id is None:
        if not actor.is_admin:
            raise Forbidden(
                f"Name your team as the owner to {doing}; only admins keep things without a team.",
                field="team_id",
            )
        return None
    try:
        team = auth.get_team(session, team_id)
    except NotFound as missing:
        raise InvalidInput(missing.message, field="team_id") from None
    if not actor.is_admin and not _member(actor, team):
        raise Forbidden(f"You can only give this to a team you are in, not {team.name}.")
    return team


def responders(session: Session, ids: list[int], field: str) -> list[User]:
    """The people with these ids, in the same order (repeats kept), each able to be on call."""
    wanted = set(ids)
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
    for user_id in ids:
        user = found.get(user_id)
        if user is None or not user.is_active:
            raise InvalidInput(f"No active user with id {user_id}.", field=field)
        if user.role == Role.VIEWER.value:
            raise InvalidInput(
                f"{user.name} is a viewer; only responders and admins can be on call.", field=field
            )
    return [found[i] for i in ids]


def unique_name(session: Session, model: type, name: str, own_id: int | None = None) -> None:
    clash = row_named(session, model, name)
    if clash is not None and clash.id != own_id:
        raise Conflict(f"{name!r} already exists.", field="name")
