"""REST routes for your contact methods, notification rules and notifications, and (for an
admin moving a team in) anyone's, under /users/{user_id}/.

Pages themselves are reached through their alert or incident, which check who may see them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.paging import service
from tocsin.paging.schemas import (
    ContactMethodCreate,
    ContactMethodOut,
    NotificationOut,
    NotificationQuery,
    RuleOut,
    RulesReplace,
)
from tocsin.schemas import Page

router = APIRouter(tags=["paging"])


@router.get("/me/contact-methods", response_model=list[ContactMethodOut])
def list_contact_methods(user: CurrentUser, session: DbSession) -> object:
    return service.contact_methods(session, user)


@router.post("/me/contact-methods", response_model=ContactMethodOut, status_code=201)
def add_contact_method(body: ContactMethodCreate, user: CurrentUser, session: DbSession) -> object:
    """Your first contact method is also your first notification rule (at once)."""
    return service.add_contact_method(session, user, body)


@router.delete("/me/contact-methods/{method_id}", status_code=204)
def delete_contact_method(method_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    service.delete_contact_method(session, user, method_id)
    return Response(status_code=204)


@router.post(
    "/me/contact-methods/{method_id}/test", response_model=NotificationOut, status_code=202
)
def test_contact_method(method_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Sends a test message there now; follow its delivery in /me/notifications."""
    return service.test_contact_method(session, user, method_id)


@router.get("/me/notification-rules", response_model=list[RuleOut])
def list_rules(user: CurrentUser, session: DbSession) -> object:
    """In order of delay. With no rules, pages go to your account email at once."""
    return service.notification_rules(session, user)


@router.put("/me/notification-rules", response_model=list[RuleOut])
def replace_rules(body: RulesReplace, user: CurrentUser, session: DbSession) -> object:
    """E.g. email at once, ntfy after 2 minutes: each rule fires until the page is acknowledged."""
    return service.replace_notification_rules(session, user, body.rules)


@router.get("/me/notifications", response_model=Page[NotificationOut])
def my_notifications(
    query: Annotated[NotificationQuery, Query()], user: CurrentUser, session: DbSession
) -> object:
    """What was sent to you, newest first, with failures and retries. Pass `next_cursor` back
    as `cursor` for the next page."""
    items, next_cursor = service.notification_page(session, user, query)
    return {"items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------- anyone's, for an admin


@router.get("/users/{user_id}/contact-methods", response_model=list[ContactMethodOut])
def list_user_contact_methods(user_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Admins: anyone's contact methods (yourself: the same as /me)."""
    return service.contact_methods_of(session, user, user_id)


@router.post("/users/{user_id}/contact-methods", response_model=ContactMethodOut, status_code=201)
def add_user_contact_method(
    user_id: IdPath, body: ContactMethodCreate, user: CurrentUser, session: DbSession
) -> object:
    """Admins: add a way to reach someone; their first is also their first rule (at once)."""
    return service.add_contact_method(session, user, body, user_id)


@router.delete("/users/{user_id}/contact-methods/{method_id}", status_code=204)
def delete_user_contact_method(
    user_id: IdPath, method_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    service.delete_contact_method(session, user, method_id, user_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/notification-rules", response_model=list[RuleOut])
def list_user_rules(user_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.notification_rules_of(session, user, user_id)


@router.put("/users/{user_id}/notification-rules", response_model=list[RuleOut])
def replace_user_rules(
    user_id: IdPath, body: RulesReplace, user: CurrentUser, session: DbSession
) -> object:
    """Admins: someone's rules, e.g. email at once, ntfy after 2 minutes."""
    return service.replace_notification_rules(session, user, body.rules, user_id)
