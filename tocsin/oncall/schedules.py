"""On-call schedules and their layers: defining who takes turns, in which order of precedence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.oncall.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationTarget,
    LayerParticipant,
    Schedule,
    ScheduleLayer,
)
from tocsin.oncall.ownership import owner_for_input, require_editor, responders, unique_name
from tocsin.oncall.schemas import DAY_KEYS, LayerIn, ScheduleCreate, ScheduleUpdate


def list_schedules(session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def get_schedule(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule with id {schedule_id}.", field="schedule_id")
    return schedule


def _restrictions(data: LayerIn) -> list[dict[str, Any]]:
    return [
        {
            "days": [d for d in DAY_KEYS if d in r.days],
            "start": r.start.strftime("%H:%M"),
            "end": r.end.strftime("%H:%M"),
        }
        for r in data.restrictions
    ]


def _fill_layer(session: Session, layer: ScheduleLayer, data: LayerIn, field: str) -> None:
    people = responders(session, list(data.participant_ids), field)
    layer.name = data.name
    layer.shift_unit = data.shift_unit.value
    layer.shift_length = data.shift_length
    layer.handoff_time = data.handoff_time
    if isinstance(data.start, datetime):
        layer.start_date, layer.start_time = data.start.date(), data.start.time()
    else:
        layer.start_date, layer.start_time = data.start, None
    layer.restrictions = _restrictions(data)
    layer.participants = [
        LayerParticipant(position=n, user_id=user.id, user=user) for n, user in enumerate(people)
    ]


def _layer_summary(layer: ScheduleLayer) -> str:
    people = ", ".join(p.user.name for p in layer.participants)
    unit = layer.shift_unit if layer.shift_length != 1 else layer.shift_unit.removesuffix("s")
    return f"{layer.shift_length} {unit} shifts of {people}"


def create_schedule(session: Session, actor: User, data: ScheduleCreate) -> Schedule:
    team = owner_for_input(session, actor, data.team_id, "create schedules")
    unique_name(session, Schedule, data.name)
    schedule = Schedule(
        name=data.name, description=data.description, time_zone=data.time_zone, team=team
    )
    for position, layer_data in enumerate(data.layers):
        layer = ScheduleLayer(position=position)
        _fill_layer(session, layer, layer_data, f"layers.{position}.participant_ids")
        schedule.layers.append(layer)
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.created",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} created ({schedule.time_zone}, {len(data.layers)} layers)",
    )
    session.commit()
    return schedule


def update_schedule(
    session: Session, actor: User, schedule_id: int, data: ScheduleUpdate
) -> Schedule:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if data.name is not None:
        unique_name(session, Schedule, data.name, schedule.id)
        schedule.name = data.name
    if data.description is not None:
        schedule.description = data.description
    if data.time_zone is not None:
        schedule.time_zone = data.time_zone
    if "team_id" in data.model_fields_set:
        schedule.team = owner_for_input(session, actor, data.team_id, "change owners")
    audit.record(
        session,
        actor.id,
        "schedule.updated",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} changed",
        data.model_dump(mode="json", exclude_unset=True),
    )
    session.commit()
    return schedule


def delete_schedule(session: Session, actor: User, schedule_id: int) -> None:
    """Refused while an escalation policy pages it: that policy would page nobody."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"remove {schedule.name}")
    users = session.scalars(
        select(EscalationPolicy.name)
        .join(EscalationLevel, EscalationLevel.policy_id == EscalationPolicy.id)
        .join(EscalationTarget, EscalationTarget.level_id == EscalationLevel.id)
        .where(EscalationTarget.schedule_id == schedule.id)
        .distinct()
    ).all()
    if users:
        raise Conflict(
            f"{schedule.name} is paged by the escalation policies {', '.join(sorted(users))}; "
            "take it out of them first.",
            field="schedule_id",
        )
    audit.record(
        session,
        actor.id,
        "schedule.deleted",
        "schedule",
        schedule.id,
        f"Schedule {schedule.name} removed",
    )
    session.delete(schedule)
    session.commit()


def _layer_of(schedule: Schedule, layer_id: int) -> ScheduleLayer:
    for layer in schedule.layers:
        if layer.id == layer_id:
            return layer
    raise NotFound(f"No layer {layer_id} in {schedule.name}.", field="layer_id")


def layer_name(layer: ScheduleLayer) -> str:
    return layer.name or f"Layer {layer.position + 1}"


def add_layer(session: Session, actor: User, schedule_id: int, data: LayerIn) -> ScheduleLayer:
    """A new layer goes on top: it wins over the others where it has someone."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if len(schedule.layers) >= 10:
        raise Conflict(f"{schedule.name} already has 10 layers.", field="schedule_id")
    layer = ScheduleLayer(position=len(schedule.layers))
    _fill_layer(session, layer, data, "participant_ids")
    schedule.layers.append(layer)
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.layer_added",
        "schedule",
        schedule.id,
        f"{layer_name(layer)} added to {schedule.name}: {_layer_summary(layer)}",
    )
    session.commit()
    return layer


def update_layer(
    session: Session, actor: User, schedule_id: int, layer_id: int, data: LayerIn
) -> ScheduleLayer:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    layer = _layer_of(schedule, layer_id)
    _fill_layer(session, layer, data, "participant_ids")
    session.flush()
    audit.record(
        session,
        actor.id,
        "schedule.layer_changed",
        "schedule",
        schedule.id,
        f"{layer_name(layer)} of {schedule.name} changed: {_layer_summary(layer)}",
    )
    session.commit()
    return layer


def delete_layer(session: Session, actor: User, schedule_id: int, layer_id: int) -> None:
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    layer = _layer_of(schedule, layer_id)
    name = layer_name(layer)
    schedule.layers.remove(layer)
    for position, kept in enumerate(schedule.layers):
        kept.position = position
    audit.record(
        session,
        actor.id,
        "schedule.layer_removed",
        "schedule",
        schedule.id,
        f"{name} removed from {schedule.name}",
    )
    session.commit()


def reorder_layers(
    session: Session, actor: User, schedule_id: int, layer_ids: list[int]
) -> Schedule:
    """Bottom layer first; the last one wins where it has someone."""
    schedule = get_schedule(session, schedule_id)
    require_editor(actor, schedule.team, f"change {schedule.name}")
    if sorted(layer_ids) != sorted(layer.id for layer in schedule.layers):
        raise InvalidInput(f"Name each layer of {schedule.name} exactly once.", field="layer_ids")
    by_id = {layer.id: layer for layer in schedule.layers}
    for position, layer_id in enumerate(layer_ids):
        by_id[layer_id].position = position
    session.flush()
    session.expire(schedule, ["layers"])
    audit.record(
        session,
        actor.id,
        "schedule.layers_reordered",
        "schedule",
        schedule.id,
        f"Layers of {schedule.name} reordered",
        {"layer_ids": layer_ids},
    )
    session.commit()
    return schedule


def move_layer(
    session: Session, actor: User, schedule_id: int, layer_id: int, up: bool
) -> Schedule:
    """One step up (towards winning) or down; at the end already, nothing changes."""
    schedule = get_schedule(session, schedule_id)
    order = [layer.id for layer in schedule.layers]
    index = order.index(_layer_of(schedule, layer_id).id)
    other = index + (1 if up else -1)
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    return reorder_layers(session, actor, schedule_id, order)


def schedule_exists(session: Session, schedule_id: int) -> bool:
    return session.get(Schedule, schedule_id) is not None
