"""Overrides: one person on call over every layer of a schedule for a while, and taking it back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.db import now
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.oncall.models import ScheduleOverride
from tocsin.oncall.ownership import require_editor, responders
from tocsin.oncall.schedules import get_schedule
from tocsin.oncall.schemas import OverrideCreate


def list_overrides(
    session: Session, schedule_id: int, *, current_and_future: bool = True
) -> list[ScheduleOverride]:
    get_schedule(session, schedule_id)
    query = (
        select(ScheduleOverride)
        .where(ScheduleOverride.schedule_id == schedule_id)
        .order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    )
    if current_and_future:
        query = query.where(ScheduleOverride.ends_at > now())
    return list(session.scalars(query))


def create_override(
    session: Session, actor: User, schedule_id: int, data: OverrideCreate
) -> ScheduleOverride:
    """`data.user_id` is on call over every layer until `ends_at`, from `starts_at` or now,
    whichever is later."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"add overrides to {schedule.name}")
    user = responders(session, [data.user_id], "user_id")[0]
    moment = now()
    if data.ends_at <= moment:
        raise InvalidInput("The override is over already: end it in the future.", field="ends_at")
    override = ScheduleOverride(
        schedule_id=schedule.id,
        user=user,
        # Who was on call stays as it was: an override asked to start in the past starts now.
        starts_at=max(data.starts_at, moment),
        ends_at=data.ends_at,
        note=data.note,
        created_by_id=actor.id,
    )
    session.add(override)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.override_added",
        "schedule",
        schedule.id,
        f"{user.name} on call in {schedule.name} from {override.starts_at:%Y-%m-%d %H:%M} UTC "
        f"for {override.ends_at - override.starts_at}",
        {"override_id": override.id, "user_id": user.id},
    )
    session.commit()
    return override


def delete_override(session: Session, actor: User, schedule_id: int, override_id: int) -> None:
    """A future override goes; a running one ends now; a past one is history and stays."""
    schedule = get_schedule(session, schedule_id)
    override = session.get(ScheduleOverride, override_id)
    if override is None or override.schedule_id != schedule.id:
        raise NotFound(f"No override {override_id} in {schedule.name}.", field="override_id")
    require_editor(actor, schedule.team, f"remove overrides of {schedule.name}")
    moment = now()
    if override.ends_at <= moment:
        raise Conflict("This override is over; past turns on call stay as they were.")
    if override.starts_at > moment:
        session.delete(override)
    else:
        override.ends_at = moment
    audit.record(
        session,
        actor.id,
        "schedule.override_removed",
        "schedule",
        schedule.id,
        f"Override of {override.user.name} in {schedule.name} removed",
        {"override_id": override_id},
    )
    session.commit()
