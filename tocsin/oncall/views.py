"""On-call pages: who is on call now, my on-call, schedules with their timeline and layers,
escalation policies; and the iCalendar feeds, which need a secret token and no login."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.permissions import has_role
from tocsin.catalogue import service as catalogue
from tocsin.config import Settings
from tocsin.db import now
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.errors import InvalidInput, TocsinError
from tocsin.oncall import service
from tocsin.oncall.rotation import DAY_NAMES, describe_windows
from tocsin.oncall.schemas import (
    DAY_KEYS,
    LayerIn,
    LevelIn,
    OverrideCreate,
    PolicyCreate,
    PolicyUpdate,
    ScheduleCreate,
    ScheduleUpdate,
    ServicePolicySet,
)
from tocsin.web.forms import FormBody, ids, local_datetime, optional_id, parse, text
from tocsin.web.templating import act_and_return, local_input_value, redirect, render

router = APIRouter(include_in_schema=False)

CALENDAR_TYPE = "text/calendar; charset=utf-8"
TIMELINE_WEEKS = (2, 4)
# Rows of the layer editor: participant slots beyond the current ones, restriction rows.
EXTRA_PARTICIPANT_SLOTS = 2
MIN_PARTICIPANT_SLOTS = 4
RESTRICTION_ROWS = 2
# Eight distinct colours for people on the timeline, in the stylesheet as .person-0 ... 7.
PERSON_COLOURS = 8
TABS = (
    ("Now", "/oncall"),
    ("My on-call", "/oncall/mine"),
    ("Schedules", "/oncall/schedules"),
    ("Policies", "/oncall/policies"),
)
# How a form field is named to the person who filled it in (pydantic's names otherwise).
LABELS = {
    "participant_ids": "People in the rotation",
    "shift_length": "Shift length",
    "shift_unit": "Shift unit",
    "handoff_time": "Handoff time",
    "start": "Start",
    "restrictions": "Only on call",
    "user_id": "The person",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "time_zone": "Time zone",
    "team_id": "Owning team",
    "delay_minutes": "Minutes before the next level",
    "targets": "Who to page",
    "repeat_count": "Repeat",
    "escalation_policy_id": "Escalation policy",
}


def _checked(model: Any, values: dict[str, Any]) -> Any:
    """`parse`, with this page's names for the fields in its messages."""
    try:
        return parse(model, values)
    except InvalidInput as refused:
        root = (refused.field or "").split(".")[0]
        if root in LABELS:
            default = root.replace("_", " ").capitalize()
            refused.message = refused.message.replace(default, LABELS[root], 1)
        raise


def _tabs(current: str) -> list[dict[str, Any]]:
    return [{"label": label, "url": url, "current": url == current} for label, url in TABS]


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _act(page: str, action: Callable[[], str]) -> Response:
    return act_and_return(page, action)


def _schedule_page(schedule_id: int) -> str:
    return f"/oncall/schedules/{schedule_id}"


def _policy_page(policy_id: int) -> str:
    return f"/oncall/policies/{policy_id}"


def _responders(session: Any) -> list[User]:
    return [u for u in auth.list_users(session) if u.role != Role.VIEWER.value]


# ---------------------------------------------------------------- who is on call now


@router.get("/oncall", response_class=HTMLResponse)
def now_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    moment = now()
    rows = service.who_is_on_call(session, moment)
    schedules = [
        service.on_call_now(session, s.id, moment) for s in service.list_schedules(session)
    ]
    context = {
        "tabs": _tabs("/oncall"),
        "rows": rows,
        "schedules": schedules,
        "policies": service.list_policies(session),
        "editable": {r.service.id for r in rows if service.may_edit(user, r.service.team)},
    }
    return render(request, "oncall/now.html", context)


def _back(form: FormData, fallback: str) -> str:
    """Where a form on several pages returns to: one of ours, never elsewhere."""
    target = text(form, "back")
    ours = target.startswith("/oncall") or re.fullmatch(r"/services/\d+/alerting", target)
    return target if ours and "//" not in target else fallback


@router.post("/oncall/services/{service_id}/escalation-policy")
def set_service_policy(
    service_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {"escalation_policy_id": optional_id(form, "escalation_policy_id")}
        found, policy = service.set_service_policy(
            session, user, service_id, _checked(ServicePolicySet, values)
        )
        if policy is None:
            return f"{found.name} has no escalation policy now: its alerts page nobody."
        return f"{found.name} now pages through {policy.name}."

    return _act(_back(form, "/oncall"), act)


# ---------------------------------------------------------------- my on-call


def _my_page(request: Request, user: User, session: Any, feed_url: str | None = None) -> Response:
    moment = now()
    # Looking further both ways than shown, so shifts show where they really begin and end.
    found = service.my_shifts(
        session, user, moment - timedelta(days=14), moment + timedelta(days=28 + 28)
    )
    shifts = [s for s in found if s.end > moment and s.start < moment + timedelta(days=28)]
    context = {
        "tabs": _tabs("/oncall/mine"),
        "shifts": shifts,
        "has_feed": service.feed_of(session, user_id=user.id) is not None,
        "feed_url": feed_url,
        "schedules": service.schedules_of(session, user),
    }
    return render(request, "oncall/mine.html", context)


@router.get("/oncall/mine", response_class=HTMLResponse)
def my_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    return _my_page(request, user, session)


@router.post("/oncall/mine/calendar-feed")
def rotate_my_feed(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    """The new URL is in this answer only: a reload shows the page without it."""
    token = service.rotate_personal_feed(session, user)
    url = request.app.state.settings.base_url.rstrip("/") + service.personal_feed_path(
        user.id, token
    )
    return _my_page(request, user, session, feed_url=url)


# ---------------------------------------------------------------- calendar feeds (no login)


def _calendar(body: bytes, name: str) -> Response:
    return Response(
        body,
        media_type=CALENDAR_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{name}.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )


def _feed_window(settings: Settings) -> service.FeedWindow:
    return service.FeedWindow(settings.calendar_feed_days_back, settings.calendar_feed_days_ahead)


@router.get("/oncall/schedules/{schedule_id}/calendar.ics")
def schedule_calendar(
    schedule_id: IdPath, request: Request, session: DbSession, token: str = ""
) -> Response:
    schedule = service.schedule_by_feed(session, schedule_id, token)
    settings = request.app.state.settings
    body = service.schedule_calendar(session, schedule, settings.base_url, _feed_window(settings))
    return _calendar(body, f"oncall-{schedule.id}")


@router.get("/oncall/users/{user_id}/calendar.ics")
def personal_calendar(
    user_id: IdPath, request: Request, session: DbSession, token: str = ""
) -> Response:
    person = service.user_by_feed(session, user_id, token)
    settings = request.app.state.settings
    body = service.personal_calendar(session, person, settings.base_url, _feed_window(settings))
    return _calendar(body, "my-oncall")


# ---------------------------------------------------------------- schedules


@router.get("/oncall/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    return render(request, "oncall/schedules.html", _schedules_context(session, user))


def _schedules_context(session: Any, user: Any, **extra: Any) -> dict[str, Any]:
    moment = now()
    schedules = service.list_schedules(session)
    return {
        "tabs": _tabs("/oncall/schedules"),
        "schedules": [(s, service.on_call_now(session, s.id, moment)) for s in schedules],
        "teams": auth.list_teams(session),
        "can_create": has_role(user, Role.RESPONDER),
        "form": {},
        "error": None,
        **extra,
    }


@router.post("/oncall/schedules")
def create_schedule(
    request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    values = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "time_zone": text(form, "time_zone").strip() or "UTC",
        "team_id": optional_id(form, "team_id"),
    }
    try:
        schedule = service.create_schedule(session, user, _checked(ScheduleCreate, values))
    except TocsinError as refused:
        # The form comes back with what was typed: only the refused field needs fixing.
        session.rollback()
        context = _schedules_context(session, user, form=values, error=refused)
        return render(request, "oncall/schedules.html", context, refused.status_code)
    return redirect(
        _schedule_page(schedule.id) + "#layers",
        f"ok|{schedule.name} is created. Add a layer: who takes turns, and when they hand off.",
    )


def _colours(shifts: list[service.ScheduledShift]) -> dict[int, int]:
    """A colour for each person, in order of first appearance."""
    colours: dict[int, int] = {}
    for shift in shifts:
        colours.setdefault(shift.user.id, len(colours) % PERSON_COLOURS)
    return colours


def _override_link(shift: service.ScheduledShift, weeks: int) -> str:
    start = shift.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    end = shift.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"?weeks={weeks}&cover={shift.user.id}&from={start}&to={end}#add-override"


def timeline_days(
    shifts: list[service.ScheduledShift], zone: ZoneInfo, first: date, days: int, moment: datetime
) -> list[dict[str, Any]]:
    """One row per local day: each shift's part of that day as a left offset and a width (%)."""
    rows = []
    for n in range(days):
        day = first + timedelta(days=n)
        begins = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        length = (ends - begins).total_seconds()
        parts = []
        for index, shift in enumerate(shifts):
            a, b = max(shift.start, begins), min(shift.end, ends)
            if a < b:
                parts.append(
                    {
                        "left": round((a - begins).total_seconds() / length * 100, 3),
                        "width": round((b - a).total_seconds() / length * 100, 3),
                        "shift": shift,
                        "index": index,
                        "starts_here": shift.start >= begins,
                    }
                )
        now_at = None
        if begins <= moment < ends:
            now_at = round((moment - begins).total_seconds() / length * 100, 3)
        rows.append({"day": day, "parts": parts, "now_at": now_at, "weekend": day.weekday() >= 5})
    return rows


def _layer_form(layer: Any | None) -> dict[str, Any]:
    """What the layer editor shows: the layer's values, or a new layer's defaults."""
    if layer is None:
        people: list[int] = []
        windows: list[dict[str, Any]] = []
        values = {
            "name": "",
            "shift_length": 1,
            "shift_unit": "weeks",
            "handoff_time": "09:00",
            "start_date": now().date().isoformat(),
            "start_time": "",
        }
    else:
        people = [p.user_id for p in layer.participants]
        windows = list(layer.restrictions or [])
        values = {
            "name": layer.name,
            "shift_length": layer.shift_length,
            "shift_unit": layer.shift_unit,
            "handoff_time": layer.handoff_time.strftime("%H:%M"),
            "start_date": layer.start_date.isoformat(),
            "start_time": layer.start_time.strftime("%H:%M") if layer.start_time else "",
        }
    slots = max(MIN_PARTICIPANT_SLOTS, len(people) + EXTRA_PARTICIPANT_SLOTS)
    rows = max(RESTRICTION_ROWS, len(windows) + 1)
    blank = {"days": [], "start": "", "end": ""}
    return {
        **values,
        "slots": people + [None] * (slots - len(people)),
        "windows": windows + [blank] * (rows - len(windows)),
    }


def _schedule_context(
    request: Request, user: User, session: Any, schedule_id: int, feed_url: str | None = None
) -> dict[str, Any]:
    schedule = service.get_schedule(session, schedule_id)
    params = request.query_params
    weeks = 4 if params.get("weeks") == "4" else 2
    zone = _zone(user)
    moment = now()
    first = moment.astimezone(zone).date()
    begins = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    ends = datetime.combine(first + timedelta(weeks=weeks), time(0), tzinfo=zone).astimezone(UTC)
    shifts = service.shifts_between(session, schedule.id, begins, ends)
    can_edit = service.may_edit(user, schedule.team)
    # "Override this shift" links carry the shift: the form starts filled in with it.
    cover = params.get("cover", "")
    owner = next((s.user for s in shifts if str(s.user.id) == cover), None)
    may_cover = has_role(user, Role.RESPONDER) and (owner is None or owner.id != user.id)
    prefill = {
        "owner": owner,
        "select": user.id if may_cover else None,
        "starts": _prefill_time(request, params.get("from"), moment),
        "ends": _prefill_time(request, params.get("to"), moment + timedelta(hours=8)),
        "chosen": bool(params.get("from")),
    }
    inactive = [
        (layer, p.user)
        for layer in schedule.layers
        for p in layer.participants
        if not p.user.is_active
    ]
    return {
        "schedule": schedule,
        "tabs": _tabs("/oncall/schedules"),
        "weeks": weeks,
        "week_choices": TIMELINE_WEEKS,
        "days": timeline_days(shifts, zone, first, weeks * 7, moment),
        "shifts": shifts,
        "colours": _colours(shifts),
        "override_link": lambda shift: _override_link(shift, weeks),
        "on_call": service.on_call_now(session, schedule.id, moment),
        "overrides": service.list_overrides(session, schedule.id),
        "can_edit": can_edit,
        "people": _responders(session),
        "teams": auth.list_teams(session),
        "prefill": prefill,
        "layer_forms": {layer.id: _layer_form(layer) for layer in schedule.layers},
        "new_layer": _layer_form(None),
        "describe_windows": lambda layer: describe_windows(service.rotation_layer(layer).windows),
        "day_names": list(zip(DAY_KEYS, DAY_NAMES, strict=True)),
        "inactive": inactive,
        "has_feed": service.feed_of(session, schedule_id=schedule.id) is not None,
        "feed_url": feed_url,
        "viewer_zone": user.time_zone,
    }


def _prefill_time(request: Request, value: str | None, default: datetime) -> str:
    """A shift's edge from an "override" link, for a datetime-local input in the viewer's zone."""
    try:
        parsed = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        parsed = default
    if parsed.tzinfo is None:
        parsed = default
    return local_input_value(request, parsed)


@router.get("/oncall/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_page(
    schedule_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    return render(
        request, "oncall/schedule.html", _schedule_context(request, user, session, schedule_id)
    )


@router.post("/oncall/schedules/{schedule_id}")
def update_schedule(
    schedule_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "name": text(form, "name"),
            "description": text(form, "description"),
            "time_zone": text(form, "time_zone").strip(),
            "team_id": optional_id(form, "team_id"),
        }
        schedule = service.update_schedule(
            session, user, schedule_id, _checked(ScheduleUpdate, values)
        )
        return f"{schedule.name} is saved."

    return _act(_schedule_page(schedule_id), act)


@router.post("/oncall/schedules/{schedule_id}/delete")
def delete_schedule(
    schedule_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    try:
        name = service.get_schedule(session, schedule_id).name
        service.delete_schedule(session, user, schedule_id)
    except TocsinError as refused:
        return redirect(_schedule_page(schedule_id), f"error|{refused.message}")
    return redirect("/oncall/schedules", f"ok|{name} is removed.")


def _layer_values(form: FormData) -> dict[str, Any]:
    start = text(form, "start_date").strip()
    start_time = text(form, "start_time").strip()
    restrictions = []
    for n in range(10):
        days = [d for d in form.getlist(f"r{n}_days") if isinstance(d, str)]
        begins, ends = text(form, f"r{n}_start").strip(), text(form, f"r{n}_end").strip()
        if not days and not begins and not ends:
            continue
        window: dict[str, Any] = {"start": begins or "00:00", "end": ends or "00:00"}
        if days:
            window["days"] = days
        restrictions.append(window)
    return {
        "name": text(form, "name"),
        "participant_ids": ids(form, "participant_ids"),
        "shift_unit": text(form, "shift_unit"),
        "shift_length": text(form, "shift_length").strip(),
        "handoff_time": text(form, "handoff_time").strip() or "09:00",
        "start": f"{start}T{start_time}" if start and start_time else start,
        "restrictions": restrictions,
    }


@router.post("/oncall/schedules/{schedule_id}/layers")
def add_layer(
    schedule_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        layer = service.add_layer(
            session, user, schedule_id, _checked(LayerIn, _layer_values(form))
        )
        return f"{layer.name or 'The layer'} is added on top."

    return _act(_schedule_page(schedule_id) + "#layers", act)


@router.post("/oncall/schedules/{schedule_id}/layers/{layer_id}")
def update_layer(
    schedule_id: IdPath, layer_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        data = _checked(LayerIn, _layer_values(form))
        layer = service.update_layer(session, user, schedule_id, layer_id, data)
        return f"{layer.name or 'The layer'} is saved."

    return _act(_schedule_page(schedule_id) + "#layers", act)


@router.post("/oncall/schedules/{schedule_id}/layers/{layer_id}/delete")
def delete_layer(
    schedule_id: IdPath, layer_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        service.delete_layer(session, user, schedule_id, layer_id)
        return "The layer is removed."

    return _act(_schedule_page(schedule_id) + "#layers", act)


@router.post("/oncall/schedules/{schedule_id}/layers/{layer_id}/move")
def move_layer(
    schedule_id: IdPath, layer_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        up = text(form, "direction") == "up"
        service.move_layer(session, user, schedule_id, layer_id, up)
        return "The layer is moved up: it wins more." if up else "The layer is moved down."

    return _act(_schedule_page(schedule_id) + "#layers", act)


@router.post("/oncall/schedules/{schedule_id}/overrides")
def add_override(
    schedule_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        starts = local_datetime(form, "starts_at", user.time_zone)
        ends = local_datetime(form, "ends_at", user.time_zone)
        if not isinstance(starts, datetime) or not isinstance(ends, datetime):
            raise InvalidInput("Give a start and an end for the override.", field="starts_at")
        values = {
            "user_id": optional_id(form, "user_id"),
            "starts_at": starts,
            "ends_at": ends,
            "note": text(form, "note"),
        }
        override = service.create_override(
            session, user, schedule_id, _checked(OverrideCreate, values)
        )
        return f"{override.user.name} is on call for that time."

    return _act(_schedule_page(schedule_id) + "#overrides", act)


@router.post("/oncall/schedules/{schedule_id}/overrides/{override_id}/delete")
def delete_override(
    schedule_id: IdPath,
    override_id: IdPath,
    form: FormBody,
    user: CurrentUser,
    session: DbSession,
) -> Response:
    def act() -> str:
        service.delete_override(session, user, schedule_id, override_id)
        return "The override is removed; the layers decide again."

    return _act(_schedule_page(schedule_id) + "#overrides", act)


@router.post("/oncall/schedules/{schedule_id}/calendar-feed")
def rotate_schedule_feed(
    schedule_id: IdPath, request: Request, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    """The new URL is in this answer only: a reload shows the page without it."""
    try:
        token = service.rotate_schedule_feed(session, user, schedule_id)
    except TocsinError as refused:
        return redirect(_schedule_page(schedule_id), f"error|{refused.message}")
    base = request.app.state.settings.base_url.rstrip("/")
    url = base + service.schedule_feed_path(schedule_id, token)
    context = _schedule_context(request, user, session, schedule_id, feed_url=url)
    return render(request, "oncall/schedule.html", context)


# ---------------------------------------------------------------- escalation policies


@router.get("/oncall/policies", response_class=HTMLResponse)
def policies_page(request: Request, user: CurrentUser, session: DbSession) -> Response:
    policies = service.list_policies(session)
    context = {
        "tabs": _tabs("/oncall/policies"),
        "policies": [(p, service.services_of(session, p.id)) for p in policies],
        "teams": auth.list_teams(session),
        "can_create": has_role(user, Role.RESPONDER),
    }
    return render(request, "oncall/policies.html", context)


@router.post("/oncall/policies")
def create_policy(form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    values = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "repeat_count": text(form, "repeat_count").strip() or 0,
        "team_id": optional_id(form, "team_id"),
    }
    try:
        policy = service.create_policy(session, user, _checked(PolicyCreate, values))
    except TocsinError as refused:
        return redirect("/oncall/policies", f"error|{refused.message}")
    return redirect(
        _policy_page(policy.id) + "#add-level",
        f"ok|{policy.name} is created. Add its first level: who is paged first.",
    )


def _level_form(level: Any | None) -> dict[str, Any]:
    chosen = {"user": set(), "schedule": set(), "team": set()}
    if level is not None:
        for target in level.targets:
            chosen[target.kind].add(target.target_id)
    return {"delay_minutes": level.delay_minutes if level else 5, "chosen": chosen}


@router.get("/oncall/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(
    policy_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    policy = service.get_policy(session, policy_id)
    levels = service.levels_of(policy)
    using = service.services_of(session, policy.id)
    moment = now()
    cache: dict[int, Any] = {}
    context = {
        "tabs": _tabs("/oncall/policies"),
        "policy": policy,
        "levels": [(level, service.reach(session, level, moment, cache)) for level in levels],
        "total_minutes": sum(level.delay_minutes for level in levels),
        "services": using,
        "other_services": [s for s in catalogue.list_services(session) if s not in using],
        "can_edit": service.may_edit(user, policy.team),
        "people": _responders(session),
        "schedules": service.list_schedules(session),
        "teams": auth.list_teams(session),
        "level_forms": {level.id: _level_form(level) for level in levels},
        "new_level": _level_form(None),
    }
    return render(request, "oncall/policy.html", context)


@router.post("/oncall/policies/{policy_id}")
def update_policy(
    policy_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        values = {
            "name": text(form, "name"),
            "description": text(form, "description"),
            "repeat_count": text(form, "repeat_count").strip() or 0,
            "team_id": optional_id(form, "team_id"),
        }
        policy = service.update_policy(session, user, policy_id, _checked(PolicyUpdate, values))
        return f"{policy.name} is saved."

    return _act(_policy_page(policy_id), act)


@router.post("/oncall/policies/{policy_id}/delete")
def delete_policy(
    policy_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    try:
        name = service.get_policy(session, policy_id).name
        service.delete_policy(session, user, policy_id)
    except TocsinError as refused:
        return redirect(_policy_page(policy_id), f"error|{refused.message}")
    return redirect("/oncall/policies", f"ok|{name} is removed.")


@router.post("/oncall/policies/{policy_id}/services")
def use_for_service(
    policy_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        chosen = text(form, "service_id").strip()
        if not chosen.isascii() or not chosen.isdigit() or len(chosen) > 15:
            raise InvalidInput("Choose a service from the list.", field="service_id")
        data = ServicePolicySet(escalation_policy_id=policy_id)
        found, policy = service.set_service_policy(session, user, int(chosen), data)
        return f"{found.name} now pages through {policy.name if policy else 'nobody'}."

    return _act(_policy_page(policy_id) + "#services", act)


def _level_values(form: FormData) -> dict[str, Any]:
    targets = [
        {"type": kind, "id": value}
        for kind in ("user", "schedule", "team")
        for value in ids(form, f"{kind}_ids")
    ]
    return {"delay_minutes": text(form, "delay_minutes").strip(), "targets": targets}


@router.post("/oncall/policies/{policy_id}/levels")
def add_level(policy_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession) -> Response:
    def act() -> str:
        level = service.add_level(session, user, policy_id, _checked(LevelIn, _level_values(form)))
        return f"Level {level.position + 1} is added."

    return _act(_policy_page(policy_id) + "#levels", act)


@router.post("/oncall/policies/{policy_id}/levels/{level_id}")
def update_level(
    policy_id: IdPath, level_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        data = _checked(LevelIn, _level_values(form))
        level = service.update_level(session, user, policy_id, level_id, data)
        return f"Level {level.position + 1} is saved."

    return _act(_policy_page(policy_id) + "#levels", act)


@router.post("/oncall/policies/{policy_id}/levels/{level_id}/delete")
def delete_level(
    policy_id: IdPath, level_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        service.delete_level(session, user, policy_id, level_id)
        return "The level is removed."

    return _act(_policy_page(policy_id) + "#levels", act)


@router.post("/oncall/policies/{policy_id}/levels/{level_id}/move")
def move_level(
    policy_id: IdPath, level_id: IdPath, form: FormBody, user: CurrentUser, session: DbSession
) -> Response:
    def act() -> str:
        up = text(form, "direction") == "up"
        service.move_level(session, user, policy_id, level_id, up)
        return "The level is moved earlier." if up else "The level is moved later."

    return _act(_policy_page(policy_id) + "#levels", act)
