"""REST routes for the current user, users, teams, API tokens and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tocsin.auth import service
from tocsin.auth.schemas import (
    AuditEntryOut,
    TeamCreate,
    TeamMemberAdd,
    TeamOut,
    TeamUpdate,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.schemas import MAX_ID

router = APIRouter()


@router.get("/me", response_model=UserOut, tags=["users"])
def me(user: CurrentUser) -> object:
    return user


@router.patch("/me", response_model=UserOut, tags=["users"])
def update_me(body: UserUpdate, user: CurrentUser, session: DbSession) -> object:
    return service.update_user(session, user, user.id, body)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(user: CurrentUser, session: DbSession, include_inactive: bool = False) -> object:
    return service.list_users(session, include_inactive=include_inactive)


@router.post("/users", response_model=UserCreated, status_code=201, tags=["users"])
def create_user(body: UserCreate, user: CurrentUser, session: DbSession) -> object:
    created, generated = service.create_user(session, user, body)
    out = UserCreated.model_validate(created)
    out.generated_password = generated
    return out


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(user_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_user(session, user_id)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"])
def update_user(user_id: IdPath, body: UserUpdate, user: CurrentUser, session: DbSession) -> object:
    return service.update_user(session, user, user_id, body)


@router.get("/teams", response_model=list[TeamOut], tags=["teams"])
def list_teams(user: CurrentUser, session: DbSession) -> object:
    return service.list_teams(session)


@router.post("/teams", response_model=TeamOut, status_code=201, tags=["teams"])
def create_team(body: TeamCreate, user: CurrentUser, session: DbSession) -> object:
    return service.create_team(session, user, body)


@router.get("/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def get_team(team_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_team(session, team_id)


@router.patch("/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def update_team(team_id: IdPath, body: TeamUpdate, user: CurrentUser, session: DbSession) -> object:
    return service.update_team(session, user, team_id, body)


@router.delete("/teams/{team_id}", status_code=204, tags=["teams"])
def delete_team(team_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_team(session, user, team_id)
    return Response(status_code=204)


@router.post("/teams/{team_id}/members", response_model=TeamOut, tags=["teams"])
def add_member(
    team_id: IdPath, body: TeamMemberAdd, user: CurrentUser, session: DbSession
) -> object:
    return service.add_team_member(session, user, team_id, body.user_id)


@router.delete("/teams/{team_id}/members/{user_id}", response_model=TeamOut, tags=["teams"])
def remove_member(
    team_id: IdPath, user_id: IdPath, user: CurrentUser, session: DbSession
) -> object:
    return service.remove_team_member(session, user, team_id, user_id)


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(user: CurrentUser, session: DbSession) -> object:
    return service.list_tokens(session, user)


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, user: CurrentUser, session: DbSession) -> object:
    token, plaintext = service.create_token(session, user, body.name)
    out = TokenCreated.model_validate(
        {**TokenOut.model_validate(token).model_dump(), "token": plaintext}
    )
    return out


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke_token(token_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.revoke_token(session, user, token_id)


@router.get("/audit", response_model=list[AuditEntryOut], tags=["audit"])
def audit_log(
    user: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> object:
    return service.audit_log(session, user, limit=limit, before_id=before_id)
