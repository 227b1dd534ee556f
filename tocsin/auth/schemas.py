"""Request and response bodies for people, teams and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tocsin.auth.models import Role
from tocsin.schemas import Email, Flag, Id, Input, Name, Output, Password, Text, TimeZone


class UserRef(Output):
    id: int
    name: str
    email: str


class UserOut(UserRef):
    time_zone: str
    role: Role
    is_active: bool
    created_at: datetime


class UserCreate(Input):
    email: Email
    name: Name
    time_zone: TimeZone = "UTC"
    role: Role = Role.RESPONDER
    password: Password | None = Field(
        default=None, description="Leave empty to generate one; it is returned once."
    )


class UserCreated(UserOut):
    generated_password: str | None = None


class UserUpdate(Input):
    """Anyone may change their own name, time zone and password; admins change the rest."""

    name: Name | None = None
    time_zone: TimeZone | None = None
    role: Role | None = None
    is_active: Flag | None = None
    password: Password | None = None
    current_password: str | None = Field(
        default=None,
        max_length=1024,
        description="Your present password: needed to change your own password.",
    )


class TeamRef(Output):
    id: int
    name: str


class TeamOut(TeamRef):
    description: str
    members: list[UserRef]


class TeamCreate(Input):
    name: Name
    description: Text = ""
    member_ids: list[Id] = Field(default_factory=list, max_length=500)


class TeamUpdate(Input):
    name: Name | None = None
    description: Text | None = None


class TeamMemberAdd(Input):
    user_id: Id


class TokenCreate(Input):
    name: Name


class TokenOut(Output):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. It is shown this once and stored only as a hash.")


class AuditEntryOut(Output):
    id: int
    at: datetime
    actor: UserRef | None
    action: str
    target_type: str
    target_id: str | None
    summary: str
    details: dict[str, object]
