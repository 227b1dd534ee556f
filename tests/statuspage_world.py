"""Helpers for status page tests: a page with components built through the services."""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.auth.models import User
from tocsin.db import Database
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.models import Component, StatusPage
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentStatusChoice,
    GroupCreate,
    PageCreate,
    PublicIncidentCreate,
    UpdatePost,
)


@dataclass
class World:
    page_id: int
    slug: str
    api: int  # component ids
    web: int
    eu: int
    us: int
    group: int


def build_page(
    db: Database, admin: User, *, slug: str = "acme", public: bool = True, time_zone: str = "UTC"
) -> World:
    """Acme Cloud: API and Website, and a group "Regions" with EU and US."""
    with db.begin() as session:
        page = statuspage.create_page(
            session,
            admin,
            PageCreate(slug=slug, name="Acme Cloud", public=public, time_zone=time_zone),
        )
        api = statuspage.create_component(
            session, admin, page.id, ComponentCreate(name="API", description="The REST API")
        )
        web = statuspage.create_component(session, admin, page.id, ComponentCreate(name="Website"))
        group = statuspage.create_group(session, admin, page.id, GroupCreate(name="Regions"))
        eu = statuspage.create_component(
            session, admin, page.id, ComponentCreate(name="EU", group_id=group.id)
        )
        us = statuspage.create_component(
            session, admin, page.id, ComponentCreate(name="US", group_id=group.id)
        )
        return World(page.id, page.slug, api.id, web.id, eu.id, us.id, group.id)


def publish(
    db: Database,
    actor: User,
    world: World,
    name: str = "Checkout errors",
    components: dict[int, str] | None = None,
    **extra: object,
) -> int:
    """Publishes an incident; returns its id."""
    chosen = [
        ComponentStatusChoice(component_id=c, status=s) for c, s in (components or {}).items()
    ]
    body = {"name": name, "body": "We are investigating.", "components": chosen, **extra}
    with db.begin() as session:
        incident = statuspage.create_incident(
            session, actor, world.page_id, PublicIncidentCreate(**body)
        )
        return incident.id


def update(
    db: Database,
    actor: User,
    world: World,
    incident_id: int,
    status: str,
    body: str = "More news.",
    components: dict[int, str] | None = None,
    **extra: object,
) -> None:
    chosen = [
        ComponentStatusChoice(component_id=c, status=s) for c, s in (components or {}).items()
    ]
    with db.begin() as session:
        statuspage.post_update(
            session,
            actor,
            world.page_id,
            incident_id,
            UpdatePost(status=status, body=body, components=chosen, **extra),
        )


def statuses(db: Database, world: World) -> dict[str, str]:
    with db.begin() as session:
        return {c.name: c.status for c in statuspage.list_components(session, world.page_id)}


def version(db: Database, world: World) -> int:
    with db.begin() as session:
        return session.get(StatusPage, world.page_id).version


def component(db: Database, component_id: int) -> Component:
    with db.begin() as session:
        return session.get(Component, component_id)
