"""Stakeholder updates from an incident: drafts, audiences, the timeline, and the cadence
reminders the engine sends (driven by the test clock, never by sleeping)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.alerting import run_engine
from tests.conftest import assert_error, browser_login
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.comms import service as comms
from tocsin.comms.cadence import Cadence, next_update_due
from tocsin.comms.schemas import UpdatePost
from tocsin.config import Settings
from tocsin.engine.comms_reminders import UpdateReminders
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate, RolesChange, StatusChange
from tocsin.paging.models import Notification
from tocsin.statuspage import service as statuspage
from tocsin.statuspage import subscribers
from tocsin.statuspage.drafts import readable_time
from tocsin.statuspage.schemas import ComponentCreate, PageCreate, PageUpdate, SubscriberCreate
from tocsin.statuspage.schemas import UpdatePost as PageUpdatePost
from tocsin.timeline.models import TimelineEvent

CADENCE = Cadence.parse("SEV1=30,SEV2=30")


@dataclass
class Room:
    """INC-1 (SEV1 on checkout, hitting the Web shop) with its people and pages."""

    key: str
    incident_id: int
    im: object  # the incident manager (declared it)
    cm: object  # the communications manager
    bystander: object  # a responder with no role in it
    public_page: int
    private_page: int
    checkout_component: int


@pytest.fixture
def room(db, clock, admin, make_user) -> Room:
    im = make_user(name="Ines Manager")
    cm = make_user(name="Cora Comms")
    bystander = make_user(name="Bo Bystander")
    with db.begin() as session:
        checkout = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        shop = catalogue.create_product(session, admin, ProductCreate(name="Web shop"))
        public = statuspage.create_page(
            session, admin, PageCreate(slug="acme", name="Acme Cloud", public=True)
        )
        component = statuspage.create_component(
            session, admin, public.id, ComponentCreate(name="Checkout", service_id=checkout.id)
        )
        private = statuspage.create_page(
            session, admin, PageCreate(slug="internal", name="Acme internal", public=False)
        )
        incident = incidents.declare_incident(
            session,
            im,
            IncidentCreate(
                summary="Card payments fail",
                severity="SEV1",
                service_id=checkout.id,
                product_ids=[shop.id],
            ),
        )
        incidents.set_roles(session, im, incident.key, RolesChange(communications_manager_id=cm.id))
        return Room(
            incident.key, incident.id, im, cm, bystander, public.id, private.id, component.id
        )


def events(db, incident_id: int, kind: str) -> list[str]:
    with db.begin() as session:
        query = (
            select(TimelineEvent.message)
            .where(
                TimelineEvent.subject_type == "incident",
                TimelineEvent.subject_id == incident_id,
                TimelineEvent.kind == kind,
            )
            .order_by(TimelineEvent.id)
        )
        return list(session.scalars(query))


def reminders(db, user) -> list[Notification]:
    with db.begin() as session:
        query = select(Notification).where(
            Notification.purpose == "update_due", Notification.user_id == user.id
        )
        return list(session.scalars(query))


def send(db, actor, key: str, **body) -> None:
    with db.begin() as session:
        comms.post_update(session, actor, key, UpdatePost(**body), CADENCE)


# ---------------------------------------------------------------- the rules


def test_the_cadence_setting_reads_minutes_per_severity():
    cadence = Cadence.parse("SEV1=15, sev2=30")
    assert cadence.minutes == {"SEV1": 15, "SEV2": 30}
    assert cadence.every("SEV3") is None
    for wrong in ("SEV9=30", "SEV1=soon", "SEV1=0"):
        with pytest.raises(ValueError):
            Cadence.parse(wrong)
    with pytest.raises(ValueError):
        Settings(update_cadence="SEV1=never")


def test_the_next_update_is_due_one_cadence_after_the_last(clock):
    declared = clock()
    assert next_update_due(CADENCE, "SEV1", "open", declared, None) == declared.replace(minute=30)
    later = declared.replace(minute=12)
    assert next_update_due(CADENCE, "SEV2", "fixing", declared, later) == later.replace(minute=42)
    assert next_update_due(CADENCE, "SEV3", "open", declared, None) is None
    assert next_update_due(CADENCE, "SEV1", "resolved", declared, None) is None
    assert readable_time(declared.replace(minute=31, second=5)) == declared.replace(minute=35)


# ---------------------------------------------------------------- drafts


def test_the_first_draft_is_filled_from_the_incident(db, room):
    with db.begin() as session:
        draft = comms.draft(session, room.cm, room.key, CADENCE, "http://tocsin.test")
    assert draft.title == "[INC-1] Incident: Card payments fail (SEV1)"
    for expected in (
        "Severity: SEV1",
        "Affected: Web shop",
        "Status: Investigating",
        "Next steps: Find the cause",
        "Next update: by 09:30 UTC",
        "Incident manager: Ines Manager · Communications: Cora Comms",
        "http://tocsin.test/incidents/INC-1",
    ):
        assert expected in draft.body
    assert draft.public_body.startswith("We are investigating a problem affecting Web shop.")
    assert "We will post another update by 09:30 UTC." in draft.public_body
    assert "Reference for support: INC-1." in draft.public_body
    assert "Ines" not in draft.public_body  # no internal names in public
    assert [(a.kind, a.name) for a in draft.audiences] == [
        ("private_page", "Acme internal"),
        ("public_page", "Acme Cloud"),
    ]
    assert draft.next_update_due_at == room_time(draft, minute=30)


def test_the_public_draft_uses_customers_names_and_the_pages_time_zone(db, room, admin):
    """Customers know the status page's components, not internal service names, and read
    times in the page's zone, not the author's."""
    with db.begin() as session:
        statuspage.update_page(
            session, admin, room.public_page, PageUpdate(time_zone="Europe/Berlin")
        )
        checkout = session.get(Incident, room.incident_id).service_id
        incidents.declare_incident(
            session,
            room.im,
            IncidentCreate(summary="Refunds stall", severity="SEV2", service_id=checkout),
        )
        draft = comms.draft(session, room.im, "INC-2", CADENCE, "http://tocsin.test")
    assert draft.public_body.startswith("We are investigating a problem affecting Checkout.")
    assert "We will post another update by 10:30 CET." in draft.public_body
    assert "checkout" not in draft.public_body  # the service's own name stays inside
    assert "Affected: checkout" in draft.body  # stakeholders get it


def room_time(draft, minute: int):
    return draft.incident.declared_at.replace(minute=minute)


def test_a_follow_up_draft_counts_the_updates_and_says_what_changed(db, room, clock):
    send(db, room.cm, room.key, page_ids=[room.private_page], body="First words.")
    clock.advance(minutes=10)
    with db.begin() as session:
        draft = comms.draft(session, room.cm, room.key, CADENCE)
    assert draft.title == "[INC-1] Update 2: Card payments fail (SEV1)"
    assert "What changed:" in draft.body
    assert "Next update: by 09:40 UTC" in draft.body
    assert draft.next_update_due_at == room_time(draft, minute=30)  # sent at 09:00, +30


# ---------------------------------------------------------------- sending


def test_an_update_reaches_a_channel_and_both_pages_and_lands_on_the_timeline(
    db, room, admin, api_as, client, settings, webhook_receiver
):
    port = webhook_receiver.url.split(":")[2].split("/")[0]
    channel = api_as(admin).post(
        "/api/v1/stakeholder-channels",
        json={"name": "#incidents on Slack", "url": f"json://127.0.0.1:{port}/hook"},
    )
    assert channel.status_code == 201, channel.text
    assert channel.json()["kind"] == "json" and "url" not in channel.json()
    cora = api_as(room.cm)
    draft = cora.get(f"/api/v1/incidents/{room.key}/updates/draft").json()
    body = draft["body"].replace("Find the cause and limit the impact.", "Roll back deploy 4512.")
    sent = cora.post(
        f"/api/v1/incidents/{room.key}/updates",
        json={
            "channel_ids": [channel.json()["id"]],
            "page_ids": [room.private_page, room.public_page],
            "body": body,
            "public_body": draft["public_body"],
        },
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["author"]["name"] == "Cora Comms"

    # The public page and its JSON show it at once, with the checkout component hit.
    summary = client.get("/status/acme/api/v2/summary.json").json()
    (public,) = summary["incidents"]
    assert public["name"] == "Card payments fail" and public["impact"] == "critical"
    assert public["incident_updates"][0]["body"] == draft["public_body"]
    assert summary["components"][0]["status"] == "major_outage"
    # The private page (internal stakeholders and its subscribers) carries the internal text.
    with db.begin() as session:
        (private,) = statuspage.list_incidents(session, room.private_page)
        assert private.updates[0].body == body.strip()
    # The channel gets it through the outbox, sent by the engine to a real HTTP peer.
    run_engine(db, settings)
    ((_headers, received),) = webhook_receiver.received
    assert received["title"] == "[INC-1] Incident: Card payments fail (SEV1)"
    assert "Roll back deploy 4512." in received["message"]
    assert received["title"] not in received["message"]  # chat shows the title once

    (event,) = events(db, room.incident_id, "stakeholder_update")
    assert event.startswith(
        "Stakeholder update 1 sent to Acme internal (private page), Acme Cloud (public page); "
        "on its way to #incidents on Slack: [INC-1] Incident"
    )
    listed = cora.get(f"/api/v1/incidents/{room.key}/updates").json()
    assert [u["incident_key"] for u in listed] == ["INC-1"]

    # A follow-up updates the same public incident rather than opening another.
    follow = cora.post(
        f"/api/v1/incidents/{room.key}/updates",
        json={"page_ids": [room.public_page], "public_body": "Still on it."},
    )
    assert follow.status_code == 201, follow.text
    (public,) = client.get("/status/acme/api/v2/summary.json").json()["incidents"]
    assert [u["body"] for u in public["incident_updates"]][:2] == [
        "Still on it.",
        draft["public_body"],
    ]
    assert len(events(db, room.incident_id, "stakeholder_update")) == 2


def test_an_update_to_pages_is_one_event_on_the_timeline(db, room, responder):
    """The pages an update reaches record no event of their own: the timeline says it once,
    with both texts; an update posted on the status page itself is still recorded there."""
    both = {"page_ids": [room.private_page, room.public_page]}
    send(db, room.cm, room.key, **both, body="Internal words.", public_body="Public words.")
    send(db, room.cm, room.key, **both, body="More inside.", public_body="More outside.")
    first, second = events(db, room.incident_id, "stakeholder_update")
    assert first.startswith("Stakeholder update 1 sent to Acme internal (private page), Acme")
    assert "Internal words." in first and "On the public page: Public words." in first
    assert "More inside." in second and "More outside." in second
    assert events(db, room.incident_id, "status_page_update") == []
    with db.begin() as session:
        (public,) = statuspage.list_incidents(session, room.public_page)
        statuspage.post_update(
            session,
            room.im,
            room.public_page,
            public.id,
            PageUpdatePost(status="monitoring", body="A fix is out."),
        )
    (direct,) = events(db, room.incident_id, "status_page_update")
    assert "A fix is out." in direct


def test_the_author_chooses_the_status_the_pages_show(db, room):
    """By default the page follows the incident (open: investigating); the author may say
    more, e.g. a fix is out and they are monitoring, while the incident stays open."""
    public = {"page_ids": [room.public_page]}
    send(db, room.cm, room.key, **public, public_body="We are looking into it.")
    with db.begin() as session:
        (shown,) = statuspage.list_incidents(session, room.public_page)
        assert shown.status == "investigating"
    send(db, room.cm, room.key, **public, public_body="A fix is out.", page_status="monitoring")
    with db.begin() as session:
        (shown,) = statuspage.list_incidents(session, room.public_page)
        assert shown.status == "monitoring" and shown.updates[0].body == "A fix is out."


def test_a_follow_up_sets_the_components_and_the_banner_follows(db, room, api_as, client):
    """A fix is out: the communications manager says so and puts the affected components back
    to operational in the same update, so the public banner stops saying "Major outage";
    "keep" leaves the components as the last update set them."""
    cora = api_as(room.cm)
    path = f"/api/v1/incidents/{room.key}/updates"

    def post(**body):
        sent = cora.post(path, json={"page_ids": [room.public_page], **body})
        assert sent.status_code == 201, sent.text

    def shown() -> tuple[str, str]:
        summary = client.get("/status/acme/api/v2/summary.json").json()
        (component,) = summary["components"]
        return component["status"], summary["status"]["indicator"]

    post(public_body="We are looking into it.")  # the first: from the severity (SEV1)
    assert shown() == ("major_outage", "critical")
    post(public_body="Still on it.", component_status="keep")
    assert shown() == ("major_outage", "critical")
    post(public_body="A fix is in place.", page_status="monitoring", component_status="operational")
    assert shown() == ("operational", "none")
    (public,) = client.get("/status/acme/api/v2/summary.json").json()["incidents"]
    assert public["status"] == "monitoring" and public["impact"] == "none"
    assert public["components"][0]["status"] == "operational"
    post(public_body="It came back.", component_status="partial_outage")
    assert shown() == ("partial_outage", "major")
    post(public_body="Watching it.")  # keep is the default
    assert shown() == ("partial_outage", "major")
    last = events(db, room.incident_id, "stakeholder_update")
    assert last[2].endswith("Components on the pages now: Operational.")
    assert "Components on the pages now" not in last[4]


def test_a_bad_component_status_is_refused_and_writes_nothing(db, room, admin, api_as, client):
    cora = api_as(room.cm)
    path = f"/api/v1/incidents/{room.key}/updates"
    public = {"page_ids": [room.public_page], "public_body": "A fix is in place."}
    assert cora.post(path, json=public).status_code == 201
    before = client.get("/status/acme/api/v2/summary.json").json()
    for wrong in ("under_maintenance", "fine", "", None, 3):
        refused = cora.post(path, json={**public, "component_status": wrong})
        assert_error(refused, 422)
    # Nowhere to show it, or a resolution (which restores components by itself).
    channel = api_as(admin).post(
        "/api/v1/stakeholder-channels", json={"name": "Chat", "url": "json://127.0.0.1:9/hook"}
    )
    only_chat = {"channel_ids": [channel.json()["id"]], "body": "Fixed."}
    assert_error(
        cora.post(path, json={**only_chat, "component_status": "operational"}),
        422,
        field="component_status",
    )
    assert_error(
        cora.post(
            path, json={**public, "page_status": "resolved", "component_status": "operational"}
        ),
        422,
        field="component_status",
    )
    assert client.get("/status/acme/api/v2/summary.json").json() == before
    assert len(cora.get(path).json()) == 1
    assert len(events(db, room.incident_id, "stakeholder_update")) == 1


def test_a_resolved_incident_asks_for_the_resolution_while_a_page_still_shows_it(db, room, client):
    """An explorer resolved the incident and the public page kept saying 'Partial outage'."""
    public = {"page_ids": [room.public_page]}
    send(db, room.cm, room.key, **public, public_body="We are looking into it.")
    with db.begin() as session:
        im = session.get(User, room.im.id)
        incidents.change_status(session, im, room.key, StatusChange(status="fixing"))
        resolved = StatusChange(status="resolved", resolution_summary="Rolled back")
        incidents.change_status(session, im, room.key, resolved)
    browser_login(client, room.cm)
    page = client.get(f"/incidents/{room.key}").text
    assert "Customers still see this incident as ongoing" in page
    assert "Acme Cloud shows it as <strong>Investigating</strong>" in page

    send(db, room.cm, room.key, **public, public_body="All good again.")  # follows: resolved
    page = client.get(f"/incidents/{room.key}").text
    assert "Customers still see this incident as ongoing" not in page


def test_the_form_offers_the_components_status_and_keeps_it_when_refused(db, room, client):
    token = browser_login(client, room.cm)
    page = client.get(f"/incidents/{room.key}")
    assert "Components now" in page.text and "Set from the severity" in page.text
    form = {"csrf_token": token, "audience": f"page:{room.public_page}", "public_body": ""}
    refused = client.post(
        f"/incidents/{room.key}/updates", data={**form, "component_status": "operational"}
    )
    assert (
        refused.status_code == 422 and "Write the update for the public status page" in refused.text
    )
    assert '<option value="operational" selected>' in refused.text
    wrong = {**form, "public_body": "Fixed.", "component_status": "sparkling"}
    assert client.post(f"/incidents/{room.key}/updates", data=wrong).status_code == 422
    assert events(db, room.incident_id, "stakeholder_update") == []
    sent = {**form, "public_body": "Fixed.", "component_status": "degraded_performance"}
    done = client.post(f"/incidents/{room.key}/updates", data=sent, follow_redirects=False)
    assert done.status_code == 303
    summary = client.get("/status/acme/api/v2/summary.json").json()
    assert summary["components"][0]["status"] == "degraded_performance"
    assert "Keep as they are" in client.get(f"/incidents/{room.key}").text


def test_subscribers_of_the_private_page_get_the_internal_update(
    db, room, admin, settings, webhook_receiver
):
    """Internal stakeholders are the private page's subscribers: told through its hook."""
    with db.begin() as session:
        subscribers.add_subscriber(
            session,
            admin,
            room.private_page,
            SubscriberCreate(kind="webhook", address=webhook_receiver.url),
        )
    send(db, room.cm, room.key, page_ids=[room.private_page], body="Exec summary: rolling back.")
    run_engine(db, settings)
    ((_headers, received),) = webhook_receiver.received
    assert "Exec summary: rolling back." in str(received)


def test_only_the_communications_or_incident_manager_or_an_admin_sends(
    db, room, admin, viewer, api_as
):
    body = {"page_ids": [room.private_page], "body": "Hello."}
    path = f"/api/v1/incidents/{room.key}/updates"
    assert_error(api_as(viewer).post(path, json=body), 403, "forbidden")
    assert_error(api_as(room.bystander).post(path, json=body), 403, "forbidden")
    assert events(db, room.incident_id, "stakeholder_update") == []
    for sender in (room.im, admin):
        assert api_as(sender).post(path, json=body).status_code == 201
    # Reading the draft and the list is open to anyone who may see the incident.
    assert api_as(viewer).get(path).status_code == 200


def test_a_refused_update_writes_nothing(db, room, api_as):
    cora = api_as(room.cm)
    path = f"/api/v1/incidents/{room.key}/updates"
    assert_error(cora.post(path, json={"body": "To nobody"}), 422, field="channel_ids")
    assert_error(
        cora.post(path, json={"page_ids": [room.public_page], "body": "internal only"}),
        422,
        field="public_body",
    )
    assert_error(
        cora.post(path, json={"channel_ids": [999], "body": "x"}), 422, field="channel_ids"
    )
    assert_error(
        cora.post(path, json={"page_ids": [room.private_page], "body": "x", "extra": 1}), 422
    )
    assert_error(cora.post("/api/v1/incidents/INC-99/updates", json={"body": "x"}), 404)
    assert cora.get(path).json() == []
    assert events(db, room.incident_id, "status_page_update") == []


def test_only_admins_add_channels_and_their_urls_stay_secret(api_as, admin, responder):
    created = {"name": "#exec", "url": "slack://TokenA/TokenB/TokenC/#exec"}
    assert_error(api_as(responder).post("/api/v1/stakeholder-channels", json=created), 403)
    ada = api_as(admin)
    assert ada.post("/api/v1/stakeholder-channels", json=created).status_code == 201
    assert_error(ada.post("/api/v1/stakeholder-channels", json=created), 409, field="name")
    bad = {"name": "x", "url": "not a url"}
    assert_error(ada.post("/api/v1/stakeholder-channels", json=bad), 422, field="url")
    listed = api_as(responder).get("/api/v1/stakeholder-channels").json()
    assert [(c["name"], c["kind"]) for c in listed] == [("#exec", "slack")]
    assert "TokenA" not in str(listed)


def test_admins_add_channels_from_the_admin_pages(client, admin, make_user):
    csrf = browser_login(client, admin)
    added = client.post(
        "/admin/stakeholder-channels",
        data={"csrf_token": csrf, "name": "#incidents", "url": "slack://A/B/C/#incidents"},
    )
    assert added.status_code == 200 and "#incidents is added." in added.text
    assert "slack://…" in added.text and "slack://A/B" not in added.text
    refused = client.post(
        "/admin/stakeholder-channels", data={"csrf_token": csrf, "name": "x", "url": "nope"}
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    client.cookies.clear()
    browser_login(client, make_user())
    assert client.get("/admin/stakeholder-channels").status_code == 403


# ---------------------------------------------------------------- the cadence


def test_reminders_go_to_the_communications_manager_then_the_incident_manager(
    db, room, clock, settings
):
    clock.advance(minutes=29)
    run_engine(db, settings)
    assert reminders(db, room.cm) == []
    clock.advance(minutes=1)  # 09:30: the first update is due
    run_engine(db, settings)
    run_engine(db, settings)
    (reminder,) = reminders(db, room.cm)
    assert reminder.title == "INC-1: a stakeholder update is due"
    assert "was due at 09:30 UTC" in reminder.body
    assert "/incidents/INC-1#stakeholder-update" in reminder.body
    assert reminders(db, room.im) == []
    clock.advance(minutes=5)  # still nothing sent: the incident manager hears too
    run_engine(db, settings)
    run_engine(db, settings)
    assert len(reminders(db, room.im)) == 1 and len(reminders(db, room.cm)) == 1
    assert events(db, room.incident_id, "update_reminder") == [
        "Stakeholder update due at 09:30 UTC: reminded Cora Comms (communications manager)",
        "Stakeholder update due at 09:30 UTC: reminded Ines Manager (incident manager)",
    ]

    # An update resets the cadence: the next one is due 30 minutes after it.
    clock.advance(minutes=1)  # 09:36
    send(db, room.cm, room.key, page_ids=[room.private_page], body="Update.")
    clock.advance(minutes=29)
    run_engine(db, settings)
    assert len(reminders(db, room.cm)) == 1
    clock.advance(minutes=1)  # 10:06
    run_engine(db, settings)
    assert len(reminders(db, room.cm)) == 2


def test_two_workers_send_each_reminder_once(db, room, clock, settings):
    clock.advance(minutes=31)
    workers = [UpdateReminders(settings) for _ in range(4)]
    start = threading.Barrier(len(workers))

    def work(module: UpdateReminders) -> None:
        start.wait()
        module.run_due(db, clock())

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reminders(db, room.cm)) == 1
    assert len(events(db, room.incident_id, "update_reminder")) == 1


def test_a_sev3_keeps_no_cadence(db, room, clock, settings, client):
    with db.begin() as session:
        incident = incidents.declare_incident(
            session, room.bystander, IncidentCreate(summary="A typo on the blog", severity="SEV3")
        )
        draft = comms.draft(session, room.bystander, incident.key, CADENCE)
    assert draft.next_update_due_at is None
    assert "Next update: when there is news" in draft.body
    clock.advance(hours=3)
    run_engine(db, settings)
    assert reminders(db, room.bystander) == []
    browser_login(client, room.bystander)
    page = client.get(f"/incidents/{incident.key}").text
    assert 'id="next-update"' not in page


# ---------------------------------------------------------------- the incident page


def test_the_incident_page_shows_when_the_next_update_is_due_and_sends_one(db, room, clock, client):
    csrf = browser_login(client, room.cm)
    clock.advance(minutes=18)
    page = client.get(f"/incidents/{room.key}").text
    assert "Next stakeholder update due" in page and "09:30" in page and "(in 12m)" in page
    assert 'id="stakeholder-update" open' in page  # Cora is the communications manager
    assert "Next update: by 09:50 UTC" in page  # the prefilled text
    assert '<option value="monitoring" >Monitoring</option>' in page  # the pages' status
    clock.advance(minutes=20)
    page = client.get(f"/incidents/{room.key}").text
    assert "next-update-overdue" in page and "(8m ago)" in page

    refused = client.post(
        f"/incidents/{room.key}/updates",
        data={"csrf_token": csrf, "body": "My carefully edited words."},
    )
    assert refused.status_code == 422
    assert "Choose at least one audience." in refused.text
    assert "My carefully edited words." in refused.text  # nothing the author wrote is lost

    sent = client.post(
        f"/incidents/{room.key}/updates",
        data={
            "csrf_token": csrf,
            "audience": f"page:{room.private_page}",
            "body": "My carefully edited words.",
            "page_status": "monitoring",  # the author says where things stand
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    with db.begin() as session:
        (private,) = statuspage.list_incidents(session, room.private_page)
        assert private.status == "monitoring"
    page = client.get(f"/incidents/{room.key}").text
    assert "Stakeholder update 1 sent to Acme internal (private page)" in page
    assert "10:08" in page and "next-update-overdue" not in page
    assert "Stakeholder update 2" in page


def test_someone_without_a_role_sees_the_due_time_but_no_form(db, room, client):
    browser_login(client, room.bystander)
    page = client.get(f"/incidents/{room.key}").text
    assert "Next stakeholder update due" in page
    assert 'id="stakeholder-update"' not in page
