"""Learn: resolving a major incident starts its blameless postmortem; it is written in
versions, reviewed and approved by someone other than its authors, and the incident closes
only once it is approved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import assert_error
from tocsin.audit.models import AuditEntry
from tocsin.auth.models import Role, User
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.config import Settings
from tocsin.errors import Conflict
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, NoteCreate  # noqa: F401
from tocsin.paging.models import Notification
from tocsin.postmortems import service as postmortems
from tocsin.postmortems.models import Postmortem, PostmortemRevision
from tocsin.postmortems.schemas import PostmortemSave

COMPLETE = {
    "five_whys": [
        {"why": "Why did checkout fail?", "answer": "The database refused connections."},
        {"why": "Why did it refuse them?", "answer": "The pool was exhausted."},
        {"why": "Why was the pool exhausted?", "answer": "Release 4512 halved its size."},
    ],
    "root_cause": "A configuration change halved the connection pool without a load test.",
    "root_cause_category": "Change",
}


@pytest.fixture
def rita(api_as, responder):
    return api_as(responder)


@pytest.fixture
def ada(api_as, admin):
    return api_as(admin)


def declare(api, severity="SEV2", **fields):
    body = {"summary": "Checkout fails for EU customers", "severity": severity, **fields}
    answer = api.post("/api/v1/incidents", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["key"]


def move(api, key, status, **body):
    return api.post(f"/api/v1/incidents/{key}/status", json={"status": status, **body})


def resolve(api, key, clock=None):
    assert move(api, key, "fixing").status_code == 200
    if clock:
        clock.advance(minutes=42)
    answer = move(api, key, "resolved", resolution_summary="Rolled back release 4512")
    assert answer.status_code == 200, answer.text
    return answer.json()


def postmortem(api, key):
    answer = api.get(f"/api/v1/incidents/{key}/postmortem")
    assert answer.status_code == 200, answer.text
    return answer.json()


def save(api, key, base_version, **sections):
    return api.patch(
        f"/api/v1/incidents/{key}/postmortem", json={"base_version": base_version, **sections}
    )


def pm_move(api, key, status, **body):
    return api.post(f"/api/v1/incidents/{key}/postmortem/status", json={"status": status, **body})


def timeline(api, key):
    return [e["message"] for e in api.get(f"/api/v1/incidents/{key}/timeline").json()]


def test_resolving_a_major_incident_starts_its_postmortem_prefilled(
    db, rita, ada, admin, responder, clock
):
    with db.begin() as session:
        adm = session.get(User, admin.id)
        service_id = catalogue.create_service(session, adm, ServiceCreate(name="Checkout API")).id
        product_id = catalogue.create_product(session, adm, ProductCreate(name="Web shop")).id
    key = declare(
        rita,
        service_id=service_id,
        product_ids=[product_id],
        impact_started_at=(clock.current - timedelta(minutes=10)).isoformat(),
        page_on_call=False,
    )
    note = rita.post(f"/api/v1/incidents/{key}/notes", json={"text": "Pool at 100%"}).json()
    rita.put(f"/api/v1/incidents/{key}/timeline/{note['id']}/star", json={"starred": True})
    rita.post(f"/api/v1/incidents/{key}/notes", json={"text": "not starred"})
    assert_error(rita.get(f"/api/v1/incidents/{key}/postmortem"), 404, field="key")
    clock.advance(minutes=3)
    resolve(rita, key, clock)

    found = postmortem(rita, key)
    assert found["status"] == "draft" and found["version"] == 1
    assert found["owner"]["name"] == responder.name  # the incident manager
    # Resolved on Monday 2 March: five working days later is Monday 9 March.
    assert found["due_at"].startswith("2026-03-09T09:45")
    assert found["allowed_moves"] == ["in_review"]
    doc = found["document"]
    assert "Duration: 55 min, from impact start 2026-03-02 08:50 UTC" in doc["impact"]
    assert "Affected products: Web shop." in doc["impact"]
    assert "Faulty service: Checkout API." in doc["impact"]
    assert "Severity: SEV2." in doc["impact"]
    assert "Time to detect: 10 min" in doc["detection"]
    assert "Time to acknowledge: 3 min" in doc["response"]
    assert f"Incident manager: {responder.name}." in doc["response"]
    assert [row["text"] for row in doc["timeline"]] == [f"{responder.name}: Pool at 100%"]
    assert doc["root_cause_category"] is None and doc["five_whys"] == []
    assert timeline(rita, key)[0] == (
        f"Postmortem started, owned by {responder.name}, due 2026-03-09"
    )
    with db.begin() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "postmortem.created")
            )
            == 1
        )
        # The owner is told, through their contact methods (their account email here).
        told = session.scalars(select(Notification).where(Notification.user_id == responder.id))
        assert [n.title for n in told] == [f"[SEV2] {key}: the postmortem is yours"]

    # Reopened and resolved again, it keeps its one postmortem.
    resolve(rita, key)  # reopens (fixing), then resolves
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Postmortem)) == 1


def test_a_minor_incident_gets_one_on_request_and_only_one(rita, responder, make_user):
    key = declare(rita, severity="SEV3")
    resolve(rita, key)
    assert_error(rita.get(f"/api/v1/incidents/{key}/postmortem"), 404)
    assert move(rita, key, "closed").status_code == 200  # minor: no postmortem needed
    tom = make_user(name="Tom Techlead")
    started = rita.post(f"/api/v1/incidents/{key}/postmortem", json={"owner_id": tom.id})
    assert started.status_code == 201, started.text
    assert started.json()["owner"]["name"] == "Tom Techlead"
    assert_error(rita.post(f"/api/v1/incidents/{key}/postmortem"), 409, code="exists")


def test_the_severities_and_due_days_are_settings(db, clock, responder):
    postmortems.use_settings(Settings(postmortem_severities="SEV1", postmortem_due_business_days=2))
    try:
        with db.begin() as session:
            rita_ = session.get(User, responder.id)
            sev2 = incidents.declare_incident(
                session, rita_, IncidentCreate(summary="Slow search", severity="SEV2")
            ).key
            sev1 = incidents.declare_incident(
                session, rita_, IncidentCreate(summary="Down", severity="SEV1")
            ).key
            clock.advance(days=4)  # Friday 6 March
            from tocsin.incidents.schemas import StatusChange

            for key in (sev2, sev1):
                incidents.change_status(session, rita_, key, StatusChange(status="fixing"))
                incidents.change_status(
                    session, rita_, key, StatusChange(status="resolved", resolution_summary="ok")
                )
            assert (
                postmortems.postmortem_of_incident(
                    session, incidents.get_incident(session, rita_, sev2)
                )
                is None
            )
            found = postmortems.get_postmortem(session, rita_, sev1).postmortem
            assert found.due_at.date().isoformat() == "2026-03-10"  # Friday + 2 working days
            # Closing the SEV2 needs nothing now; the SEV1 waits for its postmortem.
            incidents.change_status(session, rita_, sev2, StatusChange(status="closed"))
    finally:
        postmortems.use_settings(Settings())


def write_complete(api, key):
    found = postmortem(api, key)
    saved = save(api, key, found["version"], **COMPLETE)
    assert saved.status_code == 200, saved.text
    return saved.json()


def test_a_major_incident_closes_only_once_its_postmortem_is_approved(
    db, rita, ada, responder, admin
):
    key = declare(rita)
    resolve(rita, key)
    refused = move(rita, key, "closed")
    error = assert_error(refused, 409, code="postmortem_not_approved", field="postmortem")
    assert error["message"] == (
        f"{key} is a major incident (SEV2) and closes only once its postmortem is approved. "
        f"Its postmortem (owner {responder.name}) is a draft: it needs a complete five whys "
        "chain, a root cause, a root cause category, review and approval."
    )
    assert rita.get(f"/api/v1/incidents/{key}").json()["status"] == "resolved"

    write_complete(rita, key)
    assert pm_move(rita, key, "in_review").status_code == 200
    error = assert_error(move(rita, key, "closed"), 409, code="postmortem_not_approved")
    assert "is in review: it needs an approver's approval." in error["message"]
    assert pm_move(ada, key, "approved").status_code == 200
    closed = move(rita, key, "closed")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"


def test_a_major_incident_without_a_postmortem_says_to_ask_for_one(db, rita, responder):
    key = declare(rita, severity="SEV3")
    resolve(rita, key)
    rita.patch(f"/api/v1/incidents/{key}", json={"severity": "SEV1"})
    error = assert_error(move(rita, key, "closed"), 409, code="postmortem_not_approved")
    assert error["message"].endswith(
        "It has no postmortem yet: ask for one, write it and have it approved."
    )


def test_sections_are_saved_in_versions_and_only_a_clash_is_refused(
    db, rita, api_as, make_user, responder
):
    key = declare(rita)
    resolve(rita, key)
    tom = api_as(make_user(name="Tom Techlead"))
    first = save(rita, key, 1, leadup="Release 4512 went out at 08:40.")
    assert first.status_code == 200 and first.json()["version"] == 2
    # Tom opened version 1 too, and edits another section: it merges.
    merged = save(tom, key, 1, fault="The pool size was halved.")
    assert merged.status_code == 200, merged.text
    doc = merged.json()["document"]
    assert (doc["leadup"], doc["fault"]) == (
        "Release 4512 went out at 08:40.",
        "The pool size was halved.",
    )
    assert merged.json()["version"] == 3
    # Rita edits the fault over version 2, which Tom changed since: refused, nothing written.
    late = save(rita, key, 2, fault="Mine.", recovery="Rolled back.")
    error = assert_error(late, 409, field="base_version")
    assert error["message"] == (
        "Tom Techlead saved version 3 while you were editing (Fault): "
        "read theirs and save yours again."
    )
    now = postmortem(rita, key)
    assert now["version"] == 3 and now["document"]["recovery"] == ""
    # Saving what is already there makes no version.
    assert save(rita, key, 3, fault="The pool size was halved.").json()["version"] == 3
    versions = rita.get(f"/api/v1/incidents/{key}/postmortem/versions").json()
    assert [(v["version"], v["changed"]) for v in versions[:2]] == [(3, ["fault"]), (2, ["leadup"])]
    assert postmortem(rita, key)["saved_by"]["name"] == "Tom Techlead"
    old = rita.get(f"/api/v1/incidents/{key}/postmortem", params={"version": 1}).json()
    assert old["document"]["leadup"] == ""


def test_racing_saves_of_one_section_make_exactly_one_version(db, rita, responder):
    key = declare(rita)
    resolve(rita, key)
    savers = 6

    def attempt(n: int) -> str:
        with db.begin() as session:
            actor = session.get(User, responder.id)
            data = PostmortemSave(base_version=1, fault=f"written by {n}")
            try:
                postmortems.save(session, actor, key, data)
            except Conflict:
                return "refused"
            return "saved"

    with ThreadPoolExecutor(max_workers=savers) as pool:
        outcomes = list(pool.map(attempt, range(savers)))
    assert outcomes.count("saved") == 1 and outcomes.count("refused") == savers - 1
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(PostmortemRevision)) == 2


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"root_cause_category": "Gremlins"}, "root_cause_category"),
        (
            {"five_whys": [{"why": "a", "answer": ""}, {"why": "b", "answer": "c"}]},
            "five_whys.0.answer",
        ),
        ({"five_whys": [{"why": "", "answer": "x"}]}, "five_whys.0.why"),
        (
            {"five_whys": [{"why": "a", "answer": "b"}, {"why": "", "answer": ""}, {"why": "c"}]},
            "five_whys.1.why",
        ),
        ({"related_incidents": ["INC-999"]}, "related_incidents.0"),
        ({"related_incidents": ["INC-1"]}, "related_incidents.0"),
        ({"timeline": [{"at": "yesterday", "text": "x"}]}, "timeline.0.at"),
        ({"timeline_time_zone": "Mars/Olympus"}, "timeline_time_zone"),
        ({"fault": "nul \u0000"}, "fault"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_section_is_a_4xx_naming_it_and_writes_nothing(db, rita, sections, field):
    key = declare(rita)
    resolve(rita, key)
    assert key == "INC-1"
    assert_error(save(rita, key, 1, **sections), 422, field=field)
    assert postmortem(rita, key)["version"] == 1


def test_a_missing_base_version_and_one_from_the_future_are_refused(db, rita):
    key = declare(rita)
    resolve(rita, key)
    assert_error(
        rita.patch(f"/api/v1/incidents/{key}/postmortem", json={"fault": "x"}),
        422,
        field="base_version",
    )
    assert_error(save(rita, key, 7, fault="x"), 422, field="base_version")


def test_the_five_whys_may_end_on_an_open_why_while_drafting(db, rita):
    key = declare(rita)
    resolve(rita, key)
    chain = [
        {"why": "Why down?", "answer": "Pool."},
        {"why": "Why pool?"},
        {"why": "", "answer": ""},
    ]
    saved = save(rita, key, 1, five_whys=chain, root_cause="x", root_cause_category="Bug")
    assert saved.json()["document"]["five_whys"] == [*chain[:1], {"why": "Why pool?", "answer": ""}]
    # ...but a review needs every why answered.
    assert_error(pm_move(rita, key, "in_review"), 422, field="five_whys")


def test_review_needs_a_root_cause_and_changes_need_a_comment(db, rita, ada, admin, responder):
    key = declare(rita)
    resolve(rita, key)
    save(rita, key, 1, five_whys=COMPLETE["five_whys"], root_cause_category="Change")
    assert_error(pm_move(rita, key, "in_review"), 422, field="root_cause")
    write_complete(rita, key)
    assert_error(pm_move(rita, key, "approved"), 409, code="illegal_transition", field="status")
    sent = pm_move(rita, key, "in_review")
    assert sent.json()["status"] == "in_review" and sent.json()["allowed_moves"] == [
        "approved",
        "draft",
    ]
    # Not edited while in review: the answer names the moves.
    error = assert_error(save(rita, key, 2, fault="x"), 409, code="not_editable", field="status")
    assert "allowed moves: approved, draft" in error["message"]
    assert_error(pm_move(ada, key, "draft"), 422, field="comment")
    back = pm_move(ada, key, "draft", comment="Name the load test that was skipped.")
    assert back.json()["status"] == "draft"
    assert back.json()["review_comment"] == "Name the load test that was skipped."
    assert timeline(rita, key)[:2] == [
        f"Changes requested on the postmortem by {admin.name}: "
        "Name the load test that was skipped.",
        f"Postmortem sent for review by {responder.name}",
    ]


def test_the_author_cannot_approve_and_approvers_are_named_per_service(
    db, rita, api_as, make_user, admin, responder
):
    with db.begin() as session:
        adm = session.get(User, admin.id)
        service_id = catalogue.create_service(session, adm, ServiceCreate(name="Checkout API")).id
    carla = make_user(name="Carla Approver", email="carla@example.com")
    dan = make_user(name="Dan Bystander")
    postmortems.use_settings(
        Settings(postmortem_approvers="service:checkout api=carla@example.com")
    )
    try:
        key = declare(rita, service_id=service_id, page_on_call=False)
        resolve(rita, key)
        write_complete(rita, key)
        pm_move(rita, key, "in_review")
        own = assert_error(pm_move(rita, key, "approved"), 403)
        assert own["message"] == "The author cannot approve their own postmortem: ask an approver."
        other = assert_error(pm_move(api_as(dan), key, "approved"), 403)
        assert "Only the named approvers" in other["message"]
        # The named approver was told that it waits for them.
        with db.begin() as session:
            told = session.scalars(select(Notification).where(Notification.user_id == carla.id))
            assert [n.title for n in told] == [f"[SEV2] {key}: postmortem ready for your review"]
        approved = pm_move(api_as(carla), key, "approved")
        assert approved.status_code == 200, approved.text
        assert approved.json()["approved_by"]["name"] == "Carla Approver"
        assert approved.json()["allowed_moves"] == ["published", "draft"]
        error = assert_error(save(rita, key, 2, fault="late"), 409, code="not_editable")
        assert "allowed moves: published, draft" in error["message"]
        published = pm_move(rita, key, "published")
        assert published.json()["published_version"] == 2
        error = assert_error(save(rita, key, 2, fault="late"), 409, code="not_editable")
        assert "amend it" in error["message"]
        # Amending sends it back to draft; the published version stays as it was.
        amended = pm_move(rita, key, "draft", comment="Add the follow-up actions")
        assert amended.json()["status"] == "draft" and amended.json()["published_version"] == 2
        assert save(rita, key, 2, fault="More detail").json()["version"] == 3
    finally:
        postmortems.use_settings(Settings())
    with db.begin() as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "postmortem")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["postmortem.created", *["postmortem.status"] * 4]


def test_whoever_saved_a_version_is_an_author_too(db, rita, ada, admin):
    key = declare(rita)
    resolve(rita, key)
    write_complete(ada, key)  # the admin wrote the root cause
    pm_move(rita, key, "in_review")
    error = assert_error(pm_move(ada, key, "approved"), 403)
    assert "author cannot approve" in error["message"]


def test_the_owner_is_handed_on_and_told(db, rita, ada, make_user, responder):
    key = declare(rita)
    resolve(rita, key)
    tom = make_user(name="Tom Techlead")
    vic = make_user(Role.VIEWER, name="Vic Viewer")
    assert_error(
        rita.put(f"/api/v1/incidents/{key}/postmortem/owner", json={"owner_id": vic.id}),
        422,
        field="owner_id",
    )
    handed = rita.put(f"/api/v1/incidents/{key}/postmortem/owner", json={"owner_id": tom.id})
    assert handed.json()["owner"]["name"] == "Tom Techlead"
    assert timeline(rita, key)[0] == f"Postmortem handed from {responder.name} to Tom Techlead"
    with db.begin() as session:
        told = session.scalars(select(Notification).where(Notification.user_id == tom.id))
        assert [n.title for n in told] == [f"[SEV2] {key}: the postmortem is yours"]


def test_a_restricted_incident_keeps_its_postmortem_restricted(db, rita, api_as, make_user):
    key = declare(rita, restricted=True)
    resolve(rita, key)
    open_key = declare(rita)
    resolve(rita, open_key)
    otto = api_as(make_user(name="Otto Outsider"))
    assert_error(otto.get(f"/api/v1/incidents/{key}/postmortem"), 404)
    assert_error(save(otto, key, 1, fault="x"), 404)
    assert_error(otto.get(f"/api/v1/incidents/{key}/postmortem.md"), 404)
    assert [p["incident_key"] for p in otto.get("/api/v1/postmortems").json()] == [open_key]
    assert {p["incident_key"] for p in rita.get("/api/v1/postmortems").json()} == {key, open_key}


def test_viewers_read_but_do_not_write(db, rita, api_as, viewer):
    key = declare(rita)
    resolve(rita, key)
    vic = api_as(viewer)
    assert postmortem(vic, key)["status"] == "draft"
    assert_error(save(vic, key, 1, fault="x"), 403)
    assert_error(pm_move(vic, key, "in_review"), 403)


def test_the_markdown_export_has_every_section(db, rita):
    key = declare(rita)
    resolve(rita, key)
    write_complete(rita, key)
    answer = rita.get(f"/api/v1/incidents/{key}/postmortem.md")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/markdown")
    text = answer.text
    assert text.startswith(f"# Postmortem: {key} Checkout fails for EU customers\n")
    assert "1. **Why?** Why did checkout fail?  \n   **Because** The database refused" in text
    assert "## Root cause category\n\nChange\n" in text
    for heading in (
        "Incident summary",
        "Leadup",
        "Timeline (UTC)",
        "Backlog check",
        "Where we got lucky",
    ):
        assert f"## {heading}" in text


def test_the_list_filters_by_status(db, rita):
    first = declare(rita)
    resolve(rita, first)
    second = declare(rita)
    resolve(rita, second)
    write_complete(rita, second)
    pm_move(rita, second, "in_review")
    listed = rita.get("/api/v1/postmortems", params={"status": "in_review"}).json()
    assert [p["incident_key"] for p in listed] == [second]
    assert_error(
        rita.get("/api/v1/postmortems", params={"category": "Gremlins"}), 422, field="category"
    )
    assert_error(rita.get("/api/v1/postmortems", params={"month": "2026-13"}), 422, field="month")


def test_the_owner_and_the_approvers_are_mailed_through_a_real_mail_server(
    db, rita, admin, responder, smtp_server
):
    from tests.alerting import run_engine

    settings = Settings(database_url=db.url, base_url="http://testserver", smtp_url=smtp_server.url)
    key = declare(rita)
    resolve(rita, key)
    run_engine(db, settings)
    [mail] = smtp_server.to(responder.email)
    assert mail["Subject"] == f"[SEV2] {key}: the postmortem is yours"
    assert f"http://testserver/incidents/{key}/postmortem" in mail.get_content()
    write_complete(rita, key)
    pm_move(rita, key, "in_review")
    run_engine(db, settings)
    [review] = smtp_server.to(admin.email)  # no approvers named: the admins review
    assert review["Subject"] == f"[SEV2] {key}: postmortem ready for your review"
    assert f"{responder.name} asks for a review" in review.get_content()
