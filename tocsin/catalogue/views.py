"""Pages for the service catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.auth import service as auth
from tocsin.catalogue import service
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate, ServiceUpdate
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import TocsinError
from tocsin.oncall import service as oncall
from tocsin.web.forms import FormBody, optional_id, parse, text
from tocsin.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/services", response_class=HTMLResponse)
def catalogue_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    context = {
        "services": service.list_services(session),
        "policies": oncall.policies_of_services(session),
        "all_policies": oncall.list_policies(session),
        "products": service.list_products(session),
        "teams": auth.list_teams(session),
    }
    return render(request, "catalogue/services.html", context)


@router.post("/services")
def create_service(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "team_id": optional_id(form, "team_id"),
        "escalation_policy_id": optional_id(form, "escalation_policy_id"),
    }
    try:
        created, policy = oncall.create_service(session, user, parse(ServiceCreate, values))
    except TocsinError as refused:
        return redirect("/services", f"error|{refused.message}")
    if policy is None:
        return redirect(
            "/services",
            f"warn|Service {created.name} is added. It has no escalation policy: its alerts "
            "page nobody until you choose one.",
        )
    return redirect(
        "/services", f"ok|Service {created.name} is added; it pages through {policy.name}."
    )


@router.post("/services/{service_id}")
def update_service(
    service_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "team_id": optional_id(form, "team_id"),
    }
    if "escalation_policy_id" in form:
        values["escalation_policy_id"] = optional_id(form, "escalation_policy_id")
    try:
        changed, _policy = oncall.update_service(
            session, user, service_id, parse(ServiceUpdate, values)
        )
    except TocsinError as refused:
        return redirect("/services", f"error|{refused.message}")
    return redirect("/services", f"ok|Service {changed.name} is saved.")


@router.post("/services/{service_id}/delete")
def delete_service(service_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_service(session, user, service_id)
    return redirect("/services", "ok|Service removed.")


@router.post("/products")
def create_product(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {"name": text(form, "name"), "description": text(form, "description")}
    try:
        created = service.create_product(session, user, parse(ProductCreate, values))
    except TocsinError as refused:
        return redirect("/services", f"error|{refused.message}")
    return redirect("/services", f"ok|Product {created.name} is added.")


@router.post("/products/{product_id}/delete")
def delete_product(product_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_product(session, user, product_id)
    return redirect("/services", "ok|Product removed.")
