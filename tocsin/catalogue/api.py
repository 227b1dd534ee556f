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

router = APIRouter()


@router.get("/services", response_model=list[ServiceOut], tags=["services"])
def list_services(user: CurrentUser, session: DbSession) -> object:
    return service.list_services(session)


@router.post("/services", response_model=ServiceOut, status_code=201, tags=["services"])
def create_service(body: ServiceCreate, user: CurrentUser, session: DbSession) -> object:
    return service.create_service(session, user, body)


@router.get("/services/{service_id}", response_model=ServiceOut, tags=["services"])
def get_service(service_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_service(session, service_id)


@router.patch("/services/{service_id}", response_model=ServiceOut, tags=["services"])
def update_service(
    service_id: IdPath, body: ServiceUpdate, user: CurrentUser, session: DbSession
) -> object:
    return service.update_service(session, user, service_id, body)


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
