"""Bodies for services and products."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tocsin.auth.schemas import TeamRef
from tocsin.schemas import Id, Input, Name, Output, Text


class ServiceRef(Output):
    id: int
    name: str


class ServiceOut(ServiceRef):
    description: str
    team: TeamRef | None
    created_at: datetime


class ServiceCreate(Input):
    name: Name
    description: Text = ""
    team_id: Id | None = None
    escalation_policy_id: Id | None = Field(
        default=None, description="Who its alerts page; without one they page nobody."
    )


class ServiceUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    team_id: Id | None = None
    escalation_policy_id: Id | None = Field(
        default=None, description="null: the service has no policy, and its alerts page nobody."
    )


class ProductRef(Output):
    id: int
    name: str


class ProductOut(ProductRef):
    description: str
    created_at: datetime


class ProductCreate(Input):
    name: Name
    description: Text = ""


class ProductUpdate(Input):
    name: Name | None = None
    description: Text | None = None
