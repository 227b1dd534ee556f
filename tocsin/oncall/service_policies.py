"""Which escalation policy pages for each service; without one, a service's alerts page nobody."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.errors import InvalidInput
from tocsin.oncall.models import EscalationPolicy, ServiceEscalationPolicy
from tocsin.oncall.ownership import require_editor
from tocsin.oncall.schemas import ServicePolicySet


def policy_of_service(session: Session, service_id: int) -> EscalationPolicy | None:
    """The escalation policy that pages for the service, or None (nobody is paged)."""
    link = session.get(ServiceEscalationPolicy, service_id)
    return session.get(EscalationPolicy, link.policy_id) if link else None


def service_policy(session: Session, service_id: int) -> tuple[Service, EscalationPolicy | None]:
    """The service (404 when unknown) and its escalation policy."""
    return catalogue.get_service(session, service_id), policy_of_service(session, service_id)


def services_of(session: Session, policy_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .join(ServiceEscalationPolicy, ServiceEscalationPolicy.service_id == Service.id)
            .where(ServiceEscalationPolicy.policy_id == policy_id)
            .order_by(Service.name)
        )
    )


def set_service_policy(
    session: Session, actor: User, service_id: int, data: ServicePolicySet
) -> tuple[Service, EscalationPolicy | None]:
    """Admins and the service's owning team choose who its alerts page."""
    service = catalogue.get_service(session, service_id)
    require_editor(actor, service.team, f"choose the escalation policy of {service.name}")
    policy_id = data.escalation_policy_id
    policy = None
    if policy_id is not None:
        policy = session.get(EscalationPolicy, policy_id)
        if policy is None:
            raise InvalidInput(
                f"No escalation policy with id {policy_id}.", field="escalation_policy_id"
            )
    link = session.get(ServiceEscalationPolicy, service.id)
    if policy is None:
        if link is not None:
            session.delete(link)
    elif link is None:
        session.add(ServiceEscalationPolicy(service_id=service.id, policy_id=policy.id))
    else:
        link.policy_id = policy.id
    audit.record(
        session,
        actor.id,
        "service.escalation_policy",
        "service",
        service.id,
        f"{service.name} pages through {policy.name}"
        if policy
        else f"{service.name} has no escalation policy now: its alerts page nobody",
        {"escalation_policy_id": policy.id if policy else None},
    )
    session.commit()
    return service, policy
