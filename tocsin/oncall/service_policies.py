"""Which escalation policy pages for each service; without one, a service's alerts page nobody."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.catalogue.schemas import ServiceCreate, ServiceUpdate
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


def policies_of_services(session: Session) -> dict[int, EscalationPolicy]:
    """Every service's escalation policy by service id; a service missing here pages nobody."""
    query = select(ServiceEscalationPolicy.service_id, EscalationPolicy).join(
        EscalationPolicy, EscalationPolicy.id == ServiceEscalationPolicy.policy_id
    )
    return {service_id: policy for service_id, policy in session.execute(query)}


def _policy_for_input(session: Session, policy_id: int | None) -> EscalationPolicy | None:
    if policy_id is None:
        return None
    policy = session.get(EscalationPolicy, policy_id)
    if policy is None:
        raise InvalidInput(
            f"No escalation policy with id {policy_id}.", field="escalation_policy_id"
        )
    return policy


def create_service(
    session: Session, actor: User, data: ServiceCreate
) -> tuple[Service, EscalationPolicy | None]:
    """A new service and who its alerts page, chosen at once, in one transaction."""
    policy = _policy_for_input(session, data.escalation_policy_id)
    service = catalogue.create_service(session, actor, data, commit=False)
    if policy is not None:
        _choose(session, actor, service, policy)
    session.commit()
    return service, policy


def update_service(
    session: Session, actor: User, service_id: int, data: ServiceUpdate
) -> tuple[Service, EscalationPolicy | None]:
    """Changes a service and, when the change names one (or null), its escalation policy."""
    chosen = "escalation_policy_id" in data.model_fields_set
    policy = _policy_for_input(session, data.escalation_policy_id) if chosen else None
    service = catalogue.update_service(session, actor, service_id, data, commit=False)
    if chosen and policy != policy_of_service(session, service.id):
        _choose(session, actor, service, policy)
    session.commit()
    return service, policy_of_service(session, service.id)


def set_service_policy(
    session: Session, actor: User, service_id: int, data: ServicePolicySet
) -> tuple[Service, EscalationPolicy | None]:
    """Admins and the service's owning team choose who its alerts page."""
    service = catalogue.get_service(session, service_id)
    require_editor(actor, service.team, f"choose the escalation policy of {service.name}")
    policy = _policy_for_input(session, data.escalation_policy_id)
    _choose(session, actor, service, policy)
    session.commit()
    return service, policy


def _choose(
    session: Session, actor: User, service: Service, policy: EscalationPolicy | None
) -> None:
    """Links the service to `policy` (None: to none) and audits it; adds to the transaction."""
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
    session.flush()
