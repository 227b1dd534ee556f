"""Operations on the service catalogue. Admin changes are audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import service as auth
from tocsin.auth.models import Team, User
from tocsin.auth.permissions import require_admin
from tocsin.catalogue.models import Product, Service
from tocsin.catalogue.schemas import ProductCreate, ProductUpdate, ServiceCreate, ServiceUpdate
from tocsin.db import row_named
from tocsin.errors import Conflict, InvalidInput, NotFound

# ---------------------------------------------------------------- services


def get_service(session: Session, service_id: int, field: str = "service_id") -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"No service with id {service_id}.", field=field)
    return service


def service_for_input(session: Session, service_id: int | None) -> Service | None:
    """The service a request body names (None means "unknown"); a bad id is the caller's mistake."""
    if service_id is None:
        return None
    service = session.get(Service, service_id)
    if service is None:
        raise InvalidInput(f"No service with id {service_id}.", field="service_id")
    return service


def _team_for_input(session: Session, team_id: int) -> Team:
    try:
        return auth.get_team(session, team_id)
    except NotFound as missing:
        raise InvalidInput(missing.message, field="team_id") from None


def list_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.name)))


def _unique_name(session: Session, model: type, name: str, own_id: int | None = None) -> None:
    clash = row_named(session, model, name)
    if clash is not None and clash.id != own_id:
        raise Conflict(f"{name!r} already exists.", field="name")


def create_service(
    session: Session, actor: User, data: ServiceCreate, *, commit: bool = True
) -> Service:
    """`commit=False`: on-call sets its escalation policy in the same transaction."""
    require_admin(actor, "add services")
    _unique_name(session, Service, data.name)
    service = Service(name=data.name, description=data.description)
    if data.team_id is not None:
        service.team = _team_for_input(session, data.team_id)
    session.add(service)
    session.flush()
    audit.record(
        session, actor.id, "service.created", "service", service.id, f"Service {service.name} added"
    )
    if commit:
        session.commit()
    return service


def update_service(
    session: Session, actor: User, service_id: int, data: ServiceUpdate, *, commit: bool = True
) -> Service:
    """`commit=False`: on-call changes its escalation policy in the same transaction."""
    require_admin(actor, "change services")
    service = get_service(session, service_id)
    if data.name is not None:
        _unique_name(session, Service, data.name, service.id)
        service.name = data.name
    if data.description is not None:
        service.description = data.description
    if "team_id" in data.model_fields_set:
        service.team = _team_for_input(session, data.team_id) if data.team_id else None
    audit.record(
        session,
        actor.id,
        "service.updated",
        "service",
        service.id,
        f"Service {service.name} changed",
        data.model_dump(exclude_unset=True),
    )
    if commit:
        session.commit()
    return service


def delete_service(session: Session, actor: User, service_id: int) -> None:
    """Incidents that named it keep their history and show the service as unknown."""
    require_admin(actor, "remove services")
    service = get_service(session, service_id)
    audit.record(
        session,
        actor.id,
        "service.deleted",
        "service",
        service.id,
        f"Service {service.name} removed",
    )
    session.delete(service)
    session.commit()


# ---------------------------------------------------------------- products


def get_product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product with id {product_id}.", field="product_id")
    return product


def products_for_input(session: Session, ids: Iterable[int]) -> list[Product]:
    wanted = list(dict.fromkeys(ids))
    found = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(wanted)))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidInput(f"No product with id {missing[0]}.", field="product_ids")
    return [found[i] for i in wanted]


def list_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.name)))


def create_product(session: Session, actor: User, data: ProductCreate) -> Product:
    require_admin(actor, "add products")
    _unique_name(session, Product, data.name)
    product = Product(name=data.name, description=data.description)
    session.add(product)
    session.flush()
    audit.record(
        session, actor.id, "product.created", "product", product.id, f"Product {product.name} added"
    )
    session.commit()
    return product


def update_product(session: Session, actor: User, product_id: int, data: ProductUpdate) -> Product:
    require_admin(actor, "change products")
    product = get_product(session, product_id)
    if data.name is not None:
        _unique_name(session, Product, data.name, product.id)
        product.name = data.name
    if data.description is not None:
        product.description = data.description
    audit.record(
        session,
        actor.id,
        "product.updated",
        "product",
        product.id,
        f"Product {product.name} changed",
    )
    session.commit()
    return product


def delete_product(session: Session, actor: User, product_id: int) -> None:
    require_admin(actor, "remove products")
    product = get_product(session, product_id)
    audit.record(
        session,
        actor.id,
        "product.deleted",
        "product",
        product.id,
        f"Product {product.name} removed",
    )
    session.delete(product)
    session.commit()
