"""The live incident state document: anyone joining reads what is known now; responders
keep it current, and two people saving at once never overwrite each other."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import assert_error, browser_login
from tocsin.auth.models import User
from tocsin.comms import state_document
from tocsin.comms.models import StateRevision
from tocsin.comms.schemas import StateSave
from tocsin.errors import Conflict
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate

FIRST = "What is happening: card payments fail for EU customers.\nNext steps: roll back 4512."


@pytest.fixture
def key(db, clock, responder) -> str:
    with db.begin() as session:
        data = IncidentCreate(summary="Card payments fail", severity="SEV1")
        return incidents.declare_incident(session, session.get(User, responder.id), data).key


def document(api, key: str) -> dict:
    answer = api.get(f"/api/v1/incidents/{key}/state-document")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_document_is_written_in_versions_each_on_the_timeline(api_as, key, responder, clock):
    api = api_as(responder)
    empty = document(api, key)
    assert (empty["version"], empty["body"], empty["saved_by"]) == (0, "", None)

    saved = api.put(
        f"/api/v1/incidents/{key}/state-document", json={"body": FIRST, "base_version": 0}
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["body"]) == (1, FIRST)
    assert saved.json()["saved_by"]["name"] == responder.name
    clock.advance(minutes=5)
    second = api.put(
        f"/api/v1/incidents/{key}/state-document",
        json={"body": FIRST + "\nRolled back at 09:05.", "base_version": 1},
    )
    assert second.json()["version"] == 2
    assert document(api, key)["body"].endswith("Rolled back at 09:05.")
    timeline = [e["message"] for e in api.get(f"/api/v1/incidents/{key}/timeline").json()]
    assert timeline[:2] == [
        "State document updated (version 2)",
        "State document updated (version 1)",
    ]

    # Saving the same text again makes no new version.
    same = api.put(
        f"/api/v1/incidents/{key}/state-document",
        json={"body": FIRST + "\nRolled back at 09:05.", "base_version": 2},
    )
    assert same.json()["version"] == 2


def test_a_save_over_an_older_version_is_refused_and_overwrites_nothing(
    db, api_as, key, responder, make_user
):
    ines, tom = api_as(responder), api_as(make_user(name="Tom Techlead"))
    ines.put(f"/api/v1/incidents/{key}/state-document", json={"body": FIRST, "base_version": 0})
    # Both opened version 1; Tom saves first, Ines's save would overwrite his.
    tom.put(
        f"/api/v1/incidents/{key}/state-document",
        json={"body": "Tom: the pool size is the cause.", "base_version": 1},
    )
    late = ines.put(
        f"/api/v1/incidents/{key}/state-document",
        json={"body": "Ines: still looking.", "base_version": 1},
    )
    error = assert_error(late, 409, field="base_version")
    assert error["message"].startswith("Tom Techlead saved version 2 while you were editing")
    assert document(ines, key)["body"] == "Tom: the pool size is the cause."


def test_racing_saves_over_one_version_make_exactly_one_new_version(db, key, responder):
    """Several people press Save on the same version at the same moment."""
    savers = 8

    def save(n: int) -> str:
        with db.begin() as session:
            actor = session.get(User, responder.id)
            try:
                state_document.save(
                    session, actor, key, StateSave(body=f"version by {n}", base_version=0)
                )
            except Conflict:
                return "refused"
            return "saved"

    with ThreadPoolExecutor(max_workers=savers) as pool:
        outcomes = list(pool.map(save, range(savers)))
    assert outcomes.count("saved") == 1 and outcomes.count("refused") == savers - 1
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(StateRevision)) == 1


def test_readers_and_outsiders(db, api_as, key, responder, viewer, make_user):
    api_as(responder).put(
        f"/api/v1/incidents/{key}/state-document", json={"body": FIRST, "base_version": 0}
    )
    vic = api_as(viewer)
    assert document(vic, key)["body"] == FIRST
    assert_error(
        vic.put(f"/api/v1/incidents/{key}/state-document", json={"body": "x", "base_version": 1}),
        403,
    )
    with db.begin() as session:
        data = IncidentCreate(summary="Leaked keys", severity="SEV1", restricted=True)
        secret = incidents.declare_incident(session, session.get(User, responder.id), data).key
    outsider = api_as(make_user(name="Otto Outsider"))
    assert_error(outsider.get(f"/api/v1/incidents/{secret}/state-document"), 404)
    assert_error(
        outsider.put(
            f"/api/v1/incidents/{secret}/state-document", json={"body": "x", "base_version": 0}
        ),
        404,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "x"}, "base_version"),
        ({"body": "x", "base_version": -1}, "base_version"),
        ({"body": "x", "base_version": "one"}, "base_version"),
        ({"body": "x" * 20_001, "base_version": 0}, "body"),
        ({"body": "nul \u0000", "base_version": 0}, "body"),
        ({"body": "x", "base_version": 0, "version": 3}, "version"),
    ],
)
def test_a_bad_save_is_a_clear_4xx_and_writes_nothing(db, api_as, key, responder, body, field):
    answer = api_as(responder).put(f"/api/v1/incidents/{key}/state-document", json=body)
    assert_error(answer, 422, field=field)
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(StateRevision)) == 0


def test_the_pages_start_from_an_outline_and_keep_a_refused_text(
    app, db, key, responder, make_user
):
    with TestClient(app) as browser:
        csrf = browser_login(browser, responder)
        incident_page = browser.get(f"/incidents/{key}").text
        assert "Nobody has written it yet" in incident_page
        assert f'href="/incidents/{key}/state">Start it</a>' in incident_page
        editor = browser.get(f"/incidents/{key}/state").text
        assert "What is happening:\n\nCustomer impact:" in editor
        saved = browser.post(
            f"/incidents/{key}/state",
            data={"csrf_token": csrf, "body": FIRST, "base_version": "0"},
        )
        assert "State document saved (version 1)." in saved.text
        assert '<div class="state-body">What is happening: card payments fail' in saved.text

        # Someone else saves meanwhile; this person's text comes back beside theirs.
        with db.begin() as session:
            other = session.get(User, make_user(name="Tom Techlead").id)
            state_document.save(session, other, key, StateSave(body="Tom's", base_version=1))
        refused = browser.post(
            f"/incidents/{key}/state",
            data={"csrf_token": csrf, "body": "Mine, typed at length", "base_version": "1"},
        )
        assert refused.status_code == 409
        assert "Tom Techlead saved version 2 while you were editing" in refused.text
        assert ">\nMine, typed at length</textarea>" in refused.text
        assert 'name="base_version" value="2"' in refused.text  # saving again is deliberate
        assert "Tom&#39;s" in refused.text
