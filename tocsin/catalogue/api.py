"""REST routes for services and products."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tocsin.catalogue import service
from tocsin.catalogue.schemas import (
    ProductCreate,
    ProductOut,
    ProductUpdate,
    ServiceCreate,
    ServiceOut,
    ServiceUpdate,
)
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import ServiceWithPolicyOut

router = APIRouter()


def _with_policy(found: object, policy: object) -> ServiceWithPolicyOut:
    out = ServiceOut.model_validate(found).model_dump()
    return ServiceWithPolicyOut.model_validate({**out, "escalation_policy": policy})


@router.get("/services", response_model=list[ServiceWithPolicyOut], tags=["services"])
def list_services(user: CurrentUser, session: DbSession) -> object:
    """Each with its escalation policy; null: its alerts page nobody."""
    policies = oncall.policies_of_services(session)
    return [_with_policy(s, policies.get(s.id)) for s in service.list_services(session)]


@router.post("/services", response_model=ServiceWithPolicyOut, status_code=201, tags=["services"])
def create_service(body: ServiceCreate, user: CurrentUser, session: DbSession) -> object:
    """Choose `escalation_policy_id` now: without one, its alerts page nobody."""
    return _with_policy(*oncall.create_service(session, user, body))


@router.get("/services/{service_id}", response_model=ServiceWithPolicyOut, tags=["services"])
def get_service(service_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return _with_policy(*oncall.service_policy(session, service_id))


@router.patch("/services/{service_id}", response_model=ServiceWithPolicyOut, tags=["services"])
def update_service(
    service_id: IdPath, body: ServiceUpdate, user: CurrentUser, session: DbSession
) -> object:
    return _with_policy(*oncall.update_service(session, user, service_id, body))


@router.delete("/services/{service_id}", status_code=204, tags=["services"])
def delete_service(service_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_service(session, user, service_id)
    return Response(status_code=204)


@router.get("/products", response_model=list[ProductOut], tags=["products"])
def list_products(user: CurrentUser, session: DbSession) -> object:
    return service.list_products(session)


@router.post("/products", response_model=ProductOut, status_code=201, tags=["products"])
def create_product(body: ProductCreate, user: CurrentUser, session: DbSession) -> object:
    return service.create_product(session, user, body)


@router.get("/products/{product_id}", response_model=ProductOut, tags=["products"])
def get_product(product_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductOut, tags=["products"])
def update_product(
    product_id: IdPath, body: ProductUpdate, user: CurrentUser, session: DbSession
) -> object:
    return service.update_product(session, user, product_id, body)


@router.delete("/products/{product_id}", status_code=204, tags=["products"])
def delete_product(product_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_product(session, user, product_id)
    return Response(status_code=204)
