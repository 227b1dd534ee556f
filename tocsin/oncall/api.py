"""REST routes for on-call schedules, overrides, escalation policies and who is on call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.oncall import service
from tocsin.oncall.schemas import (
    AtQuery,
    FeedCreated,
    LayerIn,
    LayerOrder,
    LayerOut,
    LevelIn,
    LevelOrder,
    LevelOut,
    LevelsReplace,
    MyShiftOut,
    OnCallOut,
    OverrideCreate,
    OverrideOut,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
    ScheduleCreate,
    ScheduleOut,
    ScheduleUpdate,
    ServiceOnCallOut,
    ServicePolicyOut,
    ServicePolicySet,
    ShiftOut,
    ShiftRange,
)

router = APIRouter()
SCHEDULES = ["schedules"]
POLICIES = ["escalation policies"]
ON_CALL = ["on call"]


def _feed(request: Request, path: str) -> FeedCreated:
    return FeedCreated(url=request.app.state.settings.base_url.rstrip("/") + path)


# ---------------------------------------------------------------- schedules


@router.get("/schedules", response_model=list[ScheduleOut], tags=SCHEDULES)
def list_schedules(user: CurrentUser, session: DbSession) -> object:
    return service.list_schedules(session)


@router.post("/schedules", response_model=ScheduleOut, status_code=201, tags=SCHEDULES)
def create_schedule(body: ScheduleCreate, user: CurrentUser, session: DbSession) -> object:
    """Layers are listed bottom first: a later layer wins where it has someone on call."""
    return service.create_schedule(session, user, body)


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, tags=SCHEDULES)
def get_schedule(schedule_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_schedule(session, schedule_id)


@router.patch("/schedules/{schedule_id}", response_model=ScheduleOut, tags=SCHEDULES)
def update_schedule(
    schedule_id: IdPath, body: ScheduleUpdate, user: CurrentUser, session: DbSession
) -> object:
    return service.update_schedule(session, user, schedule_id, body)


@router.delete("/schedules/{schedule_id}", status_code=204, tags=SCHEDULES)
def delete_schedule(schedule_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    """Refused (409) while an escalation policy pages the schedule."""
    service.delete_schedule(session, user, schedule_id)
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule_id}/layers", response_model=LayerOut, status_code=201, tags=SCHEDULES
)
def add_layer(schedule_id: IdPath, body: LayerIn, user: CurrentUser, session: DbSession) -> object:
    """The new layer goes on top."""
    return service.add_layer(session, user, schedule_id, body)


@router.put("/schedules/{schedule_id}/layers/{layer_id}", response_model=LayerOut, tags=SCHEDULES)
def update_layer(
    schedule_id: IdPath, layer_id: IdPath, body: LayerIn, user: CurrentUser, session: DbSession
) -> object:
    return service.update_layer(session, user, schedule_id, layer_id, body)


@router.delete("/schedules/{schedule_id}/layers/{layer_id}", status_code=204, tags=SCHEDULES)
def delete_layer(
    schedule_id: IdPath, layer_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    service.delete_layer(session, user, schedule_id, layer_id)
    return Response(status_code=204)


@router.put("/schedules/{schedule_id}/layer-order", response_model=ScheduleOut, tags=SCHEDULES)
def reorder_layers(
    schedule_id: IdPath, body: LayerOrder, user: CurrentUser, session: DbSession
) -> object:
    """Every layer id once, bottom first."""
    return service.reorder_layers(session, user, schedule_id, body.layer_ids)


@router.get("/schedules/{schedule_id}/overrides", response_model=list[OverrideOut], tags=SCHEDULES)
def list_overrides(schedule_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Current and future overrides."""
    return service.list_overrides(session, schedule_id)


@router.post(
    "/schedules/{schedule_id}/overrides",
    response_model=OverrideOut,
    status_code=201,
    tags=SCHEDULES,
)
def create_override(
    schedule_id: IdPath, body: OverrideCreate, user: CurrentUser, session: DbSession
) -> object:
    """The person is on call from starts_at to ends_at, over every layer. A start in the
    past becomes now: who was on call stays as it was."""
    return service.create_override(session, user, schedule_id, body)


@router.delete("/schedules/{schedule_id}/overrides/{override_id}", status_code=204, tags=SCHEDULES)
def delete_override(
    schedule_id: IdPath, override_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    """A future override is removed, a running one ends now; a past one stays (409)."""
    service.delete_override(session, user, schedule_id, override_id)
    return Response(status_code=204)


@router.get("/schedules/{schedule_id}/shifts", response_model=list[ShiftOut], tags=SCHEDULES)
def shifts(
    schedule_id: IdPath,
    span: Annotated[ShiftRange, Query()],
    user: CurrentUser,
    session: DbSession,
) -> object:
    """Who is on call when over [start, end) (default: the next two weeks; at most 366 days)."""
    return service.shifts_between(session, schedule_id, span.start, span.end)


@router.get("/schedules/{schedule_id}/on-call", response_model=OnCallOut, tags=SCHEDULES)
def on_call(
    schedule_id: IdPath, query: Annotated[AtQuery, Query()], user: CurrentUser, session: DbSession
) -> object:
    return service.on_call_now(session, schedule_id, query.at)


@router.post("/schedules/{schedule_id}/calendar-feed", response_model=FeedCreated, tags=SCHEDULES)
def rotate_schedule_feed(
    schedule_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> object:
    """A new secret iCalendar URL (the old one stops working); it is in this answer only."""
    token = service.rotate_schedule_feed(session, user, schedule_id)
    return _feed(request, service.schedule_feed_path(schedule_id, token))


# ---------------------------------------------------------------- escalation policies


@router.get("/escalation-policies", response_model=list[PolicyOut], tags=POLICIES)
def list_policies(user: CurrentUser, session: DbSession) -> object:
    return service.list_policies(session)


@router.post("/escalation-policies", response_model=PolicyOut, status_code=201, tags=POLICIES)
def create_policy(body: PolicyCreate, user: CurrentUser, session: DbSession) -> object:
    return service.create_policy(session, user, body)


@router.get("/escalation-policies/{policy_id}", response_model=PolicyOut, tags=POLICIES)
def get_policy(policy_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_policy(session, policy_id)


@router.patch("/escalation-policies/{policy_id}", response_model=PolicyOut, tags=POLICIES)
def update_policy(
    policy_id: IdPath, body: PolicyUpdate, user: CurrentUser, session: DbSession
) -> object:
    return service.update_policy(session, user, policy_id, body)


@router.delete("/escalation-policies/{policy_id}", status_code=204, tags=POLICIES)
def delete_policy(policy_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    """Refused (409) while a service uses it."""
    service.delete_policy(session, user, policy_id)
    return Response(status_code=204)


@router.put("/escalation-policies/{policy_id}/levels", response_model=PolicyOut, tags=POLICIES)
def replace_levels(
    policy_id: IdPath, body: LevelsReplace, user: CurrentUser, session: DbSession
) -> object:
    return service.replace_levels(session, user, policy_id, body.levels)


@router.post(
    "/escalation-policies/{policy_id}/levels",
    response_model=LevelOut,
    status_code=201,
    tags=POLICIES,
)
def add_level(policy_id: IdPath, body: LevelIn, user: CurrentUser, session: DbSession) -> object:
    """The new level goes last."""
    return service.add_level(session, user, policy_id, body)


@router.put(
    "/escalation-policies/{policy_id}/levels/{level_id}", response_model=LevelOut, tags=POLICIES
)
def update_level(
    policy_id: IdPath, level_id: IdPath, body: LevelIn, user: CurrentUser, session: DbSession
) -> object:
    return service.update_level(session, user, policy_id, level_id, body)


@router.delete("/escalation-policies/{policy_id}/levels/{level_id}", status_code=204, tags=POLICIES)
def delete_level(
    policy_id: IdPath, level_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    service.delete_level(session, user, policy_id, level_id)
    return Response(status_code=204)


@router.put("/escalation-policies/{policy_id}/level-order", response_model=PolicyOut, tags=POLICIES)
def reorder_levels(
    policy_id: IdPath, body: LevelOrder, user: CurrentUser, session: DbSession
) -> object:
    """Every level id once, first level first."""
    return service.reorder_levels(session, user, policy_id, body.level_ids)


@router.get(
    "/services/{service_id}/escalation-policy", response_model=ServicePolicyOut, tags=POLICIES
)
def get_service_policy(service_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    chosen, policy = service.service_policy(session, service_id)
    return {"service": chosen, "escalation_policy": policy}


@router.put(
    "/services/{service_id}/escalation-policy", response_model=ServicePolicyOut, tags=POLICIES
)
def set_service_policy(
    service_id: IdPath, body: ServicePolicySet, user: CurrentUser, session: DbSession
) -> object:
    """null: the service has no policy, and its alerts page nobody."""
    chosen, policy = service.set_service_policy(session, user, service_id, body)
    return {"service": chosen, "escalation_policy": policy}


# ---------------------------------------------------------------- who is on call


@router.get("/oncall/now", response_model=list[ServiceOnCallOut], tags=ON_CALL)
def who_is_on_call(
    query: Annotated[AtQuery, Query()], user: CurrentUser, session: DbSession
) -> object:
    """Every service, with the people its escalation policy's first level pages now."""
    return service.who_is_on_call(session, query.at)


@router.get("/oncall/mine", response_model=list[MyShiftOut], tags=ON_CALL)
def my_shifts(
    span: Annotated[ShiftRange, Query()], user: CurrentUser, session: DbSession
) -> object:
    """Your own shifts in every schedule (default: the next two weeks)."""
    return service.my_shifts(session, user, span.start, span.end)


@router.post("/oncall/mine/calendar-feed", response_model=FeedCreated, tags=ON_CALL)
def rotate_personal_feed(request: Request, user: CurrentUser, session: DbSession) -> object:
    """A new secret iCalendar URL of your own shifts; the old one stops working."""
    token = service.rotate_personal_feed(session, user)
    return _feed(request, service.personal_feed_path(user.id, token))
