"""Status page operations: who may do what, what each change writes, and the pure rules.

Components, public incidents and their updates, maintenance by hand, the linked Tocsin
incident's timeline, the page's version (the cache's freshness key), the audit log;
then the uptime arithmetic and the workflow rules, exhaustively with hypothesis.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.statuspage_world import World, build_page, publish, statuses, update, version
from tocsin.audit.models import AuditEntry
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.statuspage import drafts, uptime, workflow
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.models import (
    ComponentChange,
    IncidentUpdate,
    Maintenance,
    PublicIncident,
)
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentStatusChoice,
    ComponentUpdate,
    MaintenanceCreate,
    MaintenanceEdit,
    MaintenanceUpdatePost,
    PageCreate,
    PageUpdate,
    PublicIncidentCreate,
    UpdatePost,
)
from tocsin.statuspage.workflow import ComponentStatus as CS
from tocsin.timeline.models import TimelineEvent

# ---------------------------------------------------------------- pages and components


def test_only_admins_shape_pages(db, admin, responder, viewer):
    with db.begin() as session:
        for who in (responder, viewer):
            with pytest.raises(Forbidden):
                statuspage.create_page(session, who, PageCreate(slug="x", name="X"))
    world = build_page(db, admin)
    with db.begin() as session:
        with pytest.raises(Conflict) as clash:
            statuspage.create_page(session, admin, PageCreate(slug="acme", name="Again"))
        assert clash.value.field == "slug"
        with pytest.raises(Forbidden):
            statuspage.create_component(
                session, responder, world.page_id, ComponentCreate(name="DNS")
            )
        with pytest.raises(Forbidden):
            statuspage.delete_page(session, responder, world.page_id)


@pytest.mark.parametrize("slug", ["", "-acme", "acme-", "Acme Cloud", "a/b", "é", "x" * 65])
def test_a_slug_is_a_plain_address(slug):
    with pytest.raises(ValueError):
        PageCreate(slug=slug, name="Acme")


def test_a_slug_is_stored_lowercase():
    assert PageCreate(slug="Acme-Cloud", name="Acme").slug == "acme-cloud"


def test_components_keep_their_order_within_groups(db, admin):
    world = build_page(db, admin)
    with db.begin() as session:
        names = [c.name for c in statuspage.list_components(session, world.page_id)]
    assert names == ["API", "Website", "EU", "US"]


def test_a_responder_sets_a_status_but_nothing_else(db, admin, responder, viewer, clock):
    world = build_page(db, admin)
    before = version(db, world)
    with db.begin() as session:
        statuspage.update_component(
            session, responder, world.page_id, world.api, ComponentUpdate(status=CS.MAJOR_OUTAGE)
        )
        with pytest.raises(Forbidden):
            statuspage.update_component(
                session, responder, world.page_id, world.api, ComponentUpdate(name="Renamed")
            )
        with pytest.raises(Forbidden):
            statuspage.update_component(
                session, viewer, world.page_id, world.api, ComponentUpdate(status=CS.OPERATIONAL)
            )
    assert statuses(db, world)["API"] == "major_outage"
    assert version(db, world) == before + 1
    with db.begin() as session:
        changes = session.scalars(
            select(ComponentChange.status)
            .where(ComponentChange.component_id == world.api)
            .order_by(ComponentChange.id)
        ).all()
    assert changes == ["operational", "major_outage"]


def test_a_component_of_another_page_is_refused(db, admin):
    world = build_page(db, admin)
    other = build_page(db, admin, slug="other")
    with db.begin() as session, pytest.raises(InvalidInput):
        statuspage.update_component(
            session, admin, world.page_id, other.api, ComponentUpdate(status=CS.MAJOR_OUTAGE)
        )


def test_every_change_bumps_the_page_version_once(db, admin):
    world = build_page(db, admin)
    first = version(db, world)
    with db.begin() as session:
        statuspage.update_page(session, admin, world.page_id, PageUpdate(name="Acme"))
    assert version(db, world) == first + 1
    publish(db, admin, world)
    assert version(db, world) == first + 2


def test_removing_a_group_keeps_its_components(db, admin):
    world = build_page(db, admin)
    with db.begin() as session:
        statuspage.delete_group(session, admin, world.page_id, world.group)
        left = {c.name: c.group_id for c in statuspage.list_components(session, world.page_id)}
    assert left == {"API": None, "Website": None, "EU": None, "US": None}


# ---------------------------------------------------------------- public incidents


def test_publishing_sets_component_statuses_and_the_impact(db, admin, responder):
    world = build_page(db, admin)
    incident_id = publish(db, responder, world, components={world.api: "partial_outage"})
    assert statuses(db, world)["API"] == "partial_outage"
    with db.begin() as session:
        incident = session.get(PublicIncident, incident_id)
        assert incident.impact == "major"  # from the worst component status
        assert incident.status == "investigating"
        [first] = incident.updates
        assert [(a.name, a.old_status, a.new_status) for a in first.affected] == [
            ("API", "operational", "partial_outage")
        ]
        assert first.notify is True and first.author_id == responder.id


def test_viewers_cannot_publish_or_post(db, admin, viewer):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world)
    with db.begin() as session:
        with pytest.raises(Forbidden):
            statuspage.create_incident(
                session, viewer, world.page_id, PublicIncidentCreate(name="x", body="y")
            )
        with pytest.raises(Forbidden):
            statuspage.post_update(
                session, viewer, world.page_id, incident_id, UpdatePost(status="resolved", body="x")
            )


def test_an_update_moves_status_and_components_together(db, admin, responder, clock):
    world = build_page(db, admin)
    incident_id = publish(db, responder, world, components={world.api: "major_outage"})
    clock.advance(minutes=20)
    update(
        db, responder, world, incident_id, "identified", components={world.api: "partial_outage"}
    )
    clock.advance(minutes=20)
    update(db, responder, world, incident_id, "monitoring")
    monitoring_at = clock.current
    clock.advance(minutes=20)
    update(db, responder, world, incident_id, "resolved", body="All good.")
    with db.begin() as session:
        incident = session.get(PublicIncident, incident_id)
        assert incident.status == "resolved"
        assert incident.monitoring_at == monitoring_at
        assert incident.resolved_at == clock.current
        assert [u.status for u in incident.updates] == [
            "resolved",
            "monitoring",
            "identified",
            "investigating",
        ]
        resolution = incident.updates[0]
        assert [(a.name, a.old_status, a.new_status) for a in resolution.affected] == [
            ("API", "partial_outage", "operational")
        ]
    assert statuses(db, world)["API"] == "operational"


def test_resolving_leaves_components_another_open_incident_holds(db, admin):
    world = build_page(db, admin)
    first = publish(db, admin, world, components={world.api: "major_outage"})
    publish(db, admin, world, name="Second", components={world.api: "major_outage"})
    update(db, admin, world, first, "resolved")
    assert statuses(db, world)["API"] == "major_outage"


def test_resolving_leaves_a_component_someone_else_moved(db, admin):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world, components={world.web: "degraded_performance"})
    with db.begin() as session:
        statuspage.update_component(
            session, admin, world.page_id, world.web, ComponentUpdate(status=CS.UNDER_MAINTENANCE)
        )
    update(db, admin, world, incident_id, "resolved")
    assert statuses(db, world)["Website"] == "under_maintenance"


def test_a_resolution_may_say_otherwise(db, admin):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world, components={world.api: "major_outage"})
    update(
        db, admin, world, incident_id, "resolved", components={world.api: "degraded_performance"}
    )
    assert statuses(db, world)["API"] == "degraded_performance"


def test_a_postmortem_follows_a_resolution(db, admin):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world)
    with db.begin() as session:
        with pytest.raises(Conflict) as refused:
            statuspage.post_update(
                session,
                admin,
                world.page_id,
                incident_id,
                UpdatePost(status="postmortem", body="x"),
            )
        assert refused.value.code == "illegal_transition"
    update(db, admin, world, incident_id, "resolved")
    update(db, admin, world, incident_id, "postmortem", body="Here is what happened.")


def test_a_reopened_incident_is_unresolved_again(db, admin):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world)
    update(db, admin, world, incident_id, "resolved")
    update(db, admin, world, incident_id, "investigating", body="It is back.")
    with db.begin() as session:
        incident = session.get(PublicIncident, incident_id)
        assert incident.resolved_at is None
        assert [
            i.id for i in statuspage.list_incidents(session, world.page_id, unresolved_only=True)
        ] == [incident_id]


def test_a_refused_update_writes_nothing(db, admin):
    world = build_page(db, admin)
    other = build_page(db, admin, slug="other")
    incident_id = publish(db, admin, world, components={world.api: "major_outage"})
    before = version(db, world)
    with db.begin() as session, pytest.raises(InvalidInput):
        statuspage.post_update(
            session,
            admin,
            world.page_id,
            incident_id,
            UpdatePost(
                status="resolved",
                body="Fixed",
                components=[
                    ComponentStatusChoice(component_id=world.api, status="operational"),
                    ComponentStatusChoice(component_id=other.api, status="operational"),
                ],
            ),
        )
    with db.begin() as session:
        assert session.get(PublicIncident, incident_id).status == "investigating"
        assert session.scalar(select(func.count()).select_from(IncidentUpdate)) == 1
    assert statuses(db, world)["API"] == "major_outage"
    assert version(db, world) == before


# ---------------------------------------------------------------- the linked Tocsin incident


@pytest.fixture
def declared(db, admin, responder):
    """INC-1, SEV2, on the checkout service, affecting the Web shop."""
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        incident = incidents.declare_incident(
            session,
            responder,
            IncidentCreate(
                summary="Card payments fail",
                severity="SEV2",
                service_id=checkout.id,
                product_ids=[shop.id],
            ),
        )
        return {"key": incident.key, "id": incident.id, "service_id": checkout.id}


def status_page_events(db, incident_id: int) -> list[str]:
    with db.begin() as session:
        query = (
            select(TimelineEvent.message)
            .where(
                TimelineEvent.subject_type == "incident",
                TimelineEvent.subject_id == incident_id,
                TimelineEvent.kind == "status_page_update",
            )
            .order_by(TimelineEvent.id)
        )
        return list(session.scalars(query))


def test_each_update_of_a_linked_incident_lands_on_its_timeline(db, admin, responder, declared):
    world = build_page(db, admin)
    incident_id = publish(db, responder, world, incident_key=declared["key"])
    update(db, responder, world, incident_id, "identified", body="We found the cause.")
    update(db, responder, world, incident_id, "resolved", body="Payments work again.")
    assert status_page_events(db, declared["id"]) == [
        "Published on status page Acme Cloud (Investigating): We are investigating.",
        "Status page update on Acme Cloud (Identified): We found the cause.",
        "Status page update on Acme Cloud (Resolved): Payments work again.",
    ]


def test_a_refused_update_leaves_no_timeline_event(db, admin, declared):
    world = build_page(db, admin)
    incident_id = publish(db, admin, world, incident_key=declared["key"])
    with db.begin() as session, pytest.raises(Conflict):
        statuspage.post_update(
            session,
            admin,
            world.page_id,
            incident_id,
            UpdatePost(status="postmortem", body="x"),
        )
    assert len(status_page_events(db, declared["id"])) == 1


def test_an_incident_you_cannot_see_cannot_be_linked(db, admin, responder, make_user, declared):
    world = build_page(db, admin)
    outsider = make_user("responder", name="Olga Outsider")
    with db.begin() as session:
        incidents.update_incident(
            session,
            responder,
            declared["key"],
            incidents_update(restricted=True),
        )
    with db.begin() as session:
        with pytest.raises(InvalidInput) as refused:
            statuspage.create_incident(
                session,
                outsider,
                world.page_id,
                PublicIncidentCreate(name="x", body="y", incident_key=declared["key"]),
            )
        assert refused.value.field == "incident_key"
    incident_id = publish(db, responder, world, incident_key=declared["key"])
    with db.begin() as session:
        public = session.get(PublicIncident, incident_id)
        assert statuspage.visible_incident_key(session, responder, public) == declared["key"]
        assert statuspage.visible_incident_key(session, outsider, public) is None


def incidents_update(**fields):
    from tocsin.incidents.schemas import IncidentUpdate

    return IncidentUpdate(**fields)


def page_with_api_backed_by(db, admin, service_id: int) -> World:
    """Acme Cloud, whose API component the given Tocsin service backs."""
    world = build_page(db, admin)
    with db.begin() as session:
        statuspage.update_component(
            session, admin, world.page_id, world.api, ComponentUpdate(service_id=service_id)
        )
    return world


def test_a_draft_is_filled_from_the_incident(db, admin, responder, declared, clock):
    world = page_with_api_backed_by(db, admin, declared["service_id"])
    with db.begin() as session:
        page = statuspage.get_page(session, world.page_id)
        linked, draft, backed = statuspage.draft_for(session, responder, page, declared["key"])
    assert linked.key == "INC-1"
    assert draft.name == "Card payments fail"
    assert draft.impact is workflow.Impact.MAJOR
    assert draft.status is workflow.IncidentStatus.INVESTIGATING
    assert draft.component_status is CS.PARTIAL_OUTAGE
    assert [c.name for c in backed] == ["API"]
    assert "Web shop" in draft.body and "INC-1" in draft.body
    assert "09:30 UTC" in draft.body  # the next update, 30 minutes on


def test_a_public_draft_names_the_pages_components_never_the_internal_service(
    db, admin, responder, declared
):
    world = page_with_api_backed_by(db, admin, declared["service_id"])
    with db.begin() as session:
        incident = incidents.declare_incident(
            session,
            responder,
            IncidentCreate(
                summary="Refunds stall", severity="SEV2", service_id=declared["service_id"]
            ),
        )
        page = statuspage.get_page(session, world.page_id)
        _linked, draft, _backed = statuspage.draft_for(session, responder, page, incident.key)
    assert "affecting API." in draft.body
    assert "checkout" not in draft.body


def test_the_audit_log_records_status_page_work(db, admin, responder):
    world = build_page(db, admin)
    incident_id = publish(db, responder, world)
    update(db, responder, world, incident_id, "resolved")
    with db.begin() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["status_page.incident_created", "status_page.incident_updated"]
    assert "status_page.created" in actions


def test_removing_a_page_takes_everything_with_it(db, admin):
    world = build_page(db, admin)
    publish(db, admin, world, components={world.api: "major_outage"})
    with db.begin() as session:
        statuspage.delete_page(session, admin, world.page_id)
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(PublicIncident)) == 0
        with pytest.raises(NotFound):
            statuspage.get_page(session, world.page_id)


# ---------------------------------------------------------------- maintenance by hand


def schedule(db, actor, world, start, hours=2, components=None, **extra) -> int:
    with db.begin() as session:
        maintenance = statuspage.create_maintenance(
            session,
            actor,
            world.page_id,
            MaintenanceCreate(
                name="Database upgrade",
                scheduled_for=start,
                scheduled_until=start + timedelta(hours=hours),
                component_ids=components if components is not None else [world.api],
                body="We will upgrade the database.",
                **extra,
            ),
        )
        return maintenance.id


def move(db, actor, world, maintenance_id, status, body="News.") -> None:
    with db.begin() as session:
        statuspage.post_maintenance_update(
            session,
            actor,
            world.page_id,
            maintenance_id,
            MaintenanceUpdatePost(status=status, body=body),
        )


def test_a_maintenance_window_must_end_after_it_starts(db, admin, clock):
    world = build_page(db, admin)
    with pytest.raises(InvalidInput):
        schedule(db, admin, world, clock.current, hours=0)


def test_maintenance_by_hand_puts_components_under_and_back(db, admin, responder, clock):
    world = build_page(db, admin)
    with db.begin() as session:
        statuspage.update_component(
            session,
            admin,
            world.page_id,
            world.web,
            ComponentUpdate(status=CS.DEGRADED_PERFORMANCE),
        )
    maintenance_id = schedule(
        db, responder, world, clock.current + timedelta(hours=1), components=[world.api, world.web]
    )
    move(db, responder, world, maintenance_id, "in_progress")
    assert statuses(db, world) | {} == {
        "API": "under_maintenance",
        "Website": "under_maintenance",
        "EU": "operational",
        "US": "operational",
    }
    move(db, responder, world, maintenance_id, "verifying")
    assert statuses(db, world)["API"] == "under_maintenance"
    move(db, responder, world, maintenance_id, "completed")
    assert statuses(db, world)["API"] == "operational"
    assert statuses(db, world)["Website"] == "degraded_performance"  # as it was before
    with db.begin() as session, pytest.raises(Conflict):
        statuspage.post_maintenance_update(
            session,
            responder,
            world.page_id,
            maintenance_id,
            MaintenanceUpdatePost(status="in_progress", body="again"),
        )


def test_overlapping_maintenances_restore_once_the_last_ends(db, admin, clock):
    world = build_page(db, admin)
    first = schedule(db, admin, world, clock.current, components=[world.api])
    second = schedule(db, admin, world, clock.current, components=[world.api, world.web])
    move(db, admin, world, first, "in_progress")
    move(db, admin, world, second, "in_progress")
    move(db, admin, world, first, "completed")
    assert statuses(db, world)["API"] == "under_maintenance"
    move(db, admin, world, second, "completed")
    assert statuses(db, world)["API"] == "operational"
    assert statuses(db, world)["Website"] == "operational"


def test_a_cancelled_maintenance_leaves_components_alone(db, admin, clock):
    world = build_page(db, admin)
    maintenance_id = schedule(db, admin, world, clock.current + timedelta(days=1))
    move(db, admin, world, maintenance_id, "completed", body="Cancelled.")
    assert statuses(db, world)["API"] == "operational"
    with db.begin() as session:
        assert session.get(Maintenance, maintenance_id).started_at is None


def test_only_a_maintenance_not_yet_started_changes_its_plan(db, admin, clock):
    world = build_page(db, admin)
    maintenance_id = schedule(db, admin, world, clock.current + timedelta(days=1))
    later = clock.current + timedelta(days=2)
    with db.begin() as session:
        statuspage.edit_maintenance(
            session,
            admin,
            world.page_id,
            maintenance_id,
            MaintenanceEdit(scheduled_for=later, scheduled_until=later + timedelta(hours=1)),
        )
    move(db, admin, world, maintenance_id, "in_progress")
    with db.begin() as session, pytest.raises(Conflict):
        statuspage.edit_maintenance(
            session, admin, world.page_id, maintenance_id, MaintenanceEdit(name="New")
        )


# ---------------------------------------------------------------- pure rules: the page's status


def test_the_indicator_blends_components_and_open_incidents():
    indicator = workflow.page_indicator
    assert indicator([], []).description == "All Systems Operational"
    assert indicator(["operational"], ["minor"]).indicator is workflow.Impact.MINOR
    assert indicator(["degraded_performance"], []).description == "Minor Service Outage"
    assert indicator(["partial_outage"], ["minor"]).description == "Partial System Outage"
    assert indicator(["major_outage"], []).indicator is workflow.Impact.CRITICAL
    maintenance = indicator(["under_maintenance", "operational"], [])
    assert (maintenance.indicator, maintenance.description, maintenance.tone) == (
        workflow.Impact.NONE,
        "Service Under Maintenance",
        "maintenance",
    )
    assert indicator(["under_maintenance"], ["critical"]).description == "Major Service Outage"


@given(st.lists(st.sampled_from(list(CS))), st.lists(st.sampled_from(list(workflow.Impact))))
def test_the_indicator_is_the_worst_of_everything(component_statuses, impacts):
    found = workflow.page_indicator(component_statuses, impacts)
    rank = workflow.IMPACT_RANK
    implied = [workflow.impact_of(s) for s in component_statuses] + impacts
    assert all(rank[found.indicator] >= rank[i] for i in implied)
    assert found.indicator in implied or found.indicator is workflow.Impact.NONE
    assert found.indicator.value in ("none", "minor", "major", "critical")


@given(
    st.sampled_from(list(workflow.MaintenanceStatus)),
    st.sampled_from(list(workflow.MaintenanceStatus)),
)
def test_maintenance_only_moves_forward_or_between_started_states(current, target):
    order = list(workflow.MaintenanceStatus)
    try:
        workflow.check_maintenance_move(current, target)
    except workflow.RefusedMove:
        allowed = False
    else:
        allowed = True
    if current is workflow.MaintenanceStatus.COMPLETED:
        assert not allowed
    elif order.index(target) > order.index(current):
        assert allowed or (current, target) == (
            workflow.MaintenanceStatus.SCHEDULED,
            workflow.MaintenanceStatus.VERIFYING,
        )
    if allowed and target is workflow.MaintenanceStatus.SCHEDULED:
        assert current is workflow.MaintenanceStatus.SCHEDULED


# ---------------------------------------------------------------- pure rules: uptime

ZONE = ZoneInfo("UTC")
END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_day_is_coloured_by_its_worst_moment_and_uptime_weighs_outages():
    start = END - timedelta(days=100)
    changes = [
        (start, CS.OPERATIONAL),
        (END - timedelta(hours=5), CS.MAJOR_OUTAGE),  # 1 hour of major outage today
        (END - timedelta(hours=4), CS.PARTIAL_OUTAGE),  # then 2 hours partial
        (END - timedelta(hours=2), CS.DEGRADED_PERFORMANCE),  # then 1 hour degraded
        (END - timedelta(hours=1), CS.OPERATIONAL),
    ]
    measured = uptime.daily(changes, END, ZONE)
    today = measured.days[-1]
    assert len(measured.days) == 90 and today.date == END.date()
    assert today.worst is CS.MAJOR_OUTAGE
    assert measured.days[-2].worst is CS.OPERATIONAL
    assert today.downtime == pytest.approx(3600 + 0.3 * 7200)
    window = (89 * 24 + 12) * 3600
    assert measured.percent == pytest.approx(100 * (1 - (3600 + 0.3 * 7200) / window))
    assert uptime.describe_day(today) == (
        "Mar 2, 2026: major outage 1h, partial outage 2h, degraded performance 1h"
    )
    assert uptime.describe_day(measured.days[0]).endswith("no downtime")


def test_days_before_a_component_existed_are_not_counted():
    created = END - timedelta(days=2, hours=12)  # Feb 28, 00:00
    measured = uptime.daily([(created, CS.OPERATIONAL)], END, ZONE)
    assert [d.worst for d in measured.days[-4:]] == [
        None,
        CS.OPERATIONAL,
        CS.OPERATIONAL,
        CS.OPERATIONAL,
    ]
    assert measured.percent == 100.0
    assert uptime.describe_day(measured.days[-4]).endswith("no data")


def test_a_status_taken_this_moment_already_colours_today():
    changes = [(END - timedelta(days=3), CS.OPERATIONAL), (END, CS.MAJOR_OUTAGE)]
    measured = uptime.daily(changes, END, ZONE)
    assert measured.days[-1].worst is CS.MAJOR_OUTAGE
    assert measured.percent == 100.0  # no time has passed in it yet


def test_days_follow_the_page_time_zone():
    tokyo = ZoneInfo("Asia/Tokyo")  # 09:00 Tokyo is midnight UTC
    changes = [
        (END - timedelta(days=10), CS.OPERATIONAL),
        (datetime(2026, 3, 1, 16, 0, tzinfo=UTC), CS.MAJOR_OUTAGE),  # Mar 2, 01:00 in Tokyo
        (datetime(2026, 3, 1, 16, 30, tzinfo=UTC), CS.OPERATIONAL),
    ]
    days = {d.date.isoformat(): d.worst for d in uptime.daily(changes, END, tokyo).days}
    assert days["2026-03-02"] is CS.MAJOR_OUTAGE
    assert days["2026-03-01"] is CS.OPERATIONAL


def test_a_shown_percent_never_rounds_downtime_away():
    assert uptime.shown_percent(99.9999) == "99.99"
    assert uptime.shown_percent(100.0) == "100.0"
    assert uptime.shown_percent(None) == "-"


@st.composite
def histories(draw):
    steps = draw(
        st.lists(
            st.tuples(st.integers(min_value=1, max_value=20 * 24 * 60), st.sampled_from(list(CS))),
            max_size=30,
        )
    )
    at = END - timedelta(days=draw(st.integers(min_value=0, max_value=120)))
    changes = [(at, draw(st.sampled_from(list(CS))))]
    for minutes, status in steps:
        at += timedelta(minutes=minutes)
        changes.append((at, status))
    return changes


@settings(max_examples=200, deadline=None)
@given(histories())
def test_uptime_is_a_weighted_share_of_the_measured_time(changes):
    measured = uptime.daily(changes, END, ZONE)
    assert len(measured.days) == 90
    total = sum(sum(d.seconds.values()) for d in measured.days)
    if measured.percent is None:
        assert measured.measured_seconds == 0
        return
    assert 0.0 <= measured.percent <= 100.0
    assert measured.downtime_seconds == pytest.approx(sum(d.downtime for d in measured.days))
    assert total <= measured.measured_seconds + 1e-6
    for day in measured.days:
        if day.worst is not None:
            assert all(
                workflow.COMPONENT_RANK[day.worst] >= workflow.COMPONENT_RANK[s]
                for s in day.seconds
            )
        assert day.downtime <= 86_400 + 3600  # a day is at most 25 hours (DST)
    if all(
        status in (CS.OPERATIONAL, CS.DEGRADED_PERFORMANCE, CS.UNDER_MAINTENANCE)
        for _, status in changes
    ):
        assert measured.percent == 100.0


@given(histories(), histories())
def test_a_group_shows_the_worst_of_its_components(first, second):
    parts = [uptime.daily(first, END, ZONE), uptime.daily(second, END, ZONE)]
    group = uptime.combined(parts)
    for day, a, b in zip(group.days, parts[0].days, parts[1].days, strict=True):
        present = [d.worst for d in (a, b) if d.worst is not None]
        if present:
            assert day.worst == max(present, key=workflow.COMPONENT_RANK.__getitem__)
        else:
            assert day.worst is None


# ---------------------------------------------------------------- pure rules: drafts


@given(
    st.sampled_from(["SEV1", "SEV2", "SEV3"]),
    st.sampled_from(["open", "fixing", "resolved", "closed", "cancelled"]),
    st.lists(st.text(min_size=1, max_size=20), max_size=4),
)
def test_a_draft_always_names_the_key_and_a_status(severity, status, products):
    facts = drafts.IncidentFacts(
        key="INC-7",
        severity=severity,
        summary="Logins fail",
        status=status,
        products=tuple(products),
    )
    draft = drafts.draft(facts, END, ZONE)
    assert "INC-7" in draft.body
    assert draft.status in workflow.IncidentStatus
    assert draft.impact is drafts.IMPACT_FOR_SEVERITY[severity]
    if status in ("open", "fixing"):
        assert "another update by" in draft.body


def test_the_next_update_time_is_a_round_time_half_an_hour_on():
    assert drafts.next_update_time(datetime(2026, 3, 2, 9, 1, 30, tzinfo=UTC)) == datetime(
        2026, 3, 2, 9, 35, tzinfo=UTC
    )
    assert drafts.next_update_time(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) == datetime(
        2026, 3, 2, 9, 30, tzinfo=UTC
    )


def test_a_component_added_minutes_ago_with_a_one_minute_outage_reads_its_whole_day():
    """Issue 15: added at 11:58, down 11:58-11:59, read at 12:00: not 66 % of three minutes
    but the day since midnight, as Statuspage counts from the start date."""
    changes = [
        (END - timedelta(minutes=2), CS.MAJOR_OUTAGE),
        (END - timedelta(minutes=1), CS.OPERATIONAL),
    ]
    measured = uptime.daily(changes, END, ZONE, start=END.date())
    assert measured.percent == pytest.approx(100 * (1 - 60 / (12 * 3600)))
    assert uptime.shown_percent(measured.percent) == "99.86"
    assert [d.worst for d in measured.days[-2:]] == [None, CS.MAJOR_OUTAGE]
    assert all(d.worst is None for d in measured.days[:-1])
    assert uptime.describe_day(measured.days[-2]).endswith("no data")


def test_days_before_the_start_date_are_no_data_and_days_from_it_count_whole():
    created = END - timedelta(days=1)  # Mar 1, 12:00
    start = date(2026, 2, 27)  # set earlier: Feb 27 to Mar 1 count as operational
    measured = uptime.daily([(created, CS.OPERATIONAL)], END, ZONE, start=start)
    by_day = {d.date: d.worst for d in measured.days}
    assert by_day[date(2026, 2, 26)] is None
    assert by_day[date(2026, 2, 27)] is CS.OPERATIONAL and by_day[date(2026, 3, 1)] is not None
    assert measured.measured_seconds == pytest.approx((3 * 24 + 12) * 3600)
    # A start date after an outage: the outage's day is no data, and not counted.
    outage = [
        (END - timedelta(days=5), CS.MAJOR_OUTAGE),
        (END - timedelta(days=4), CS.OPERATIONAL),
    ]
    later = uptime.daily(outage, END, ZONE, start=date(2026, 2, 27))
    assert later.percent == 100.0
    assert {d.date: d.worst for d in later.days}[date(2026, 2, 25)] is None


def test_imported_days_stand_for_what_was_measured_on_them():
    start = date(2026, 2, 1)
    imported = {date(2026, 2, 10): 1800.0, date(2026, 2, 11): 0.0}
    measured = uptime.daily(
        [(END - timedelta(hours=1), CS.OPERATIONAL)], END, ZONE, start=start, imported=imported
    )
    by_day = {d.date: d for d in measured.days}
    assert by_day[date(2026, 2, 10)].worst is CS.MAJOR_OUTAGE
    assert uptime.describe_day(by_day[date(2026, 2, 10)]) == "Feb 10, 2026: major outage 30m"
    assert uptime.describe_day(by_day[date(2026, 2, 11)]) == "Feb 11, 2026: no downtime"
    window = (29 * 24 + 12) * 3600  # Feb 1 00:00 to Mar 2 12:00
    assert measured.percent == pytest.approx(100 * (1 - 1800 / window))
    # Today cannot be imported over: it is being measured.
    today = uptime.daily(
        [(END - timedelta(hours=1), CS.OPERATIONAL)],
        END,
        ZONE,
        start=start,
        imported={END.date(): 3600.0},
    )
    assert today.percent == 100.0
