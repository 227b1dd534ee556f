"""Who may configure a service's alerting: its owning team's responders and admins."""

from __future__ import annotations

from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.catalogue.models import Service
from tocsin.errors import Forbidden


def require_service_owner(actor: User, service: Service, doing: str) -> None:
    """Admins, and responders in the service's owning team, configure a service's alerting."""
    require_responder(actor, doing)
    if actor.is_admin:
        return
    if service.team is None or actor not in service.team.members:
        owner = service.team.name if service.team else "no team"
        raise Forbidden(f"Only admins and members of the owning team ({owner}) can {doing}.")
