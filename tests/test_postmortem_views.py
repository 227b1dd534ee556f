"""The postmortem in the web UI: on the incident page, its own page (every section editable
with plain forms, a refused save kept beside the newer text), review by form, and the list."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.conftest import browser_login
from tocsin.auth.models import User
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, StatusChange
from tocsin.postmortems import service as postmortems
from tocsin.postmortems.schemas import PostmortemSave, StatusMove


@pytest.fixture
def resolved(db, clock, responder):
    """A resolved SEV2: its postmortem has just started."""

    def make(severity: str = "SEV2", **fields) -> str:
        with db.begin() as session:
            actor = session.get(User, responder.id)
            data = IncidentCreate(summary="Checkout fails", severity=severity, **fields)
            key = incidents.declare_incident(session, actor, data).key
            incidents.change_status(session, actor, key, StatusChange(status="fixing"))
            incidents.change_status(
                session, actor, key, StatusChange(status="resolved", resolution_summary="ok")
            )
            return key

    return make


@pytest.fixture
def browser(app):
    clients = []

    def login(user) -> tuple[TestClient, str]:
        client = TestClient(app)
        clients.append(client)
        return client, browser_login(client, user)

    yield login
    for client in clients:
        client.close()


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_incident_page_shows_the_postmortem_its_status_and_owner(browser, resolved, responder):
    key = resolved()
    rita, _ = browser(responder)
    page = rita.get(f"/incidents/{key}").text
    section = page.split('id="postmortem"', 1)[1].split("</section>", 1)[0]
    assert f'href="/incidents/{key}/postmortem">Open</a>' in section
    assert 'data-postmortem-status="draft">Draft</span>' in section
    assert f'<dd id="postmortem-owner">{responder.name}</dd>' in section
    assert f"{key} closes once its postmortem is approved." in section


def test_a_minor_incident_offers_to_start_one(browser, resolved, responder):
    key = resolved("SEV3")
    rita, csrf = browser(responder)
    page = rita.get(f"/incidents/{key}").text
    assert "minor incidents get one on request" in page
    started = rita.post(f"/incidents/{key}/postmortem/start", data={"csrf_token": csrf})
    assert started.url.path == f"/incidents/{key}/postmortem"
    assert "The postmortem is started" in started.text


def test_every_section_is_saved_through_a_plain_form(browser, resolved, responder):
    key = resolved()
    rita, csrf = browser(responder)
    page = rita.get(f"/incidents/{key}/postmortem").text
    for name in ("summary", "leadup", "timeline", "five_whys", "root_cause_category", "got_lucky"):
        assert f'action="/incidents/{key}/postmortem/sections/{name}"' in page
    assert "<script>" not in page
    saved = rita.post(
        f"/incidents/{key}/postmortem/sections/leadup",
        data={"csrf_token": csrf, "base_version": "1", "text": "Release 4512 went out."},
    )
    assert "Leadup saved (version 2)." in saved.text
    assert "Release 4512 went out." in saved.text
    whys = rita.post(
        f"/incidents/{key}/postmortem/sections/five_whys",
        data={
            "csrf_token": csrf,
            "base_version": "2",
            "why_0": "Why did checkout fail?",
            "answer_0": "The pool was exhausted.",
            "why_1": "Why was it exhausted?",
            "answer_1": "Release 4512 halved it.",
            "why_2": "",
            "answer_2": "",
        },
    )
    assert "Five whys saved (version 3)." in whys.text
    assert "<strong>Because</strong> Release 4512 halved it." in whys.text
    rows = rita.post(
        f"/incidents/{key}/postmortem/sections/timeline",
        data={
            "csrf_token": csrf,
            "base_version": "3",
            "time_zone": "Europe/Berlin",
            "at_0": "2026-03-02T10:05",
            "text_0": "Pool exhausted",
            "at_1": "",
            "text_1": "",
        },
    )
    assert "Timeline saved (version 4)." in rows.text
    assert "Mar 02, 10:05" in rows.text  # shown in the timeline's own time zone
    category = rita.post(
        f"/incidents/{key}/postmortem/sections/root_cause_category",
        data={"csrf_token": csrf, "base_version": "4", "category": "Change"},
    )
    assert '<span class="tag">Change</span>' in category.text
    api = postmortems  # the stored document is the API's
    assert api is not None


def test_a_refused_save_comes_back_with_the_text_as_typed(
    db, browser, resolved, responder, make_user
):
    key = resolved()
    rita, csrf = browser(responder)
    with db.begin() as session:
        tom = session.get(User, make_user(name="Tom Techlead").id)
        postmortems.save(session, tom, key, PostmortemSave(base_version=1, fault="Tom's view"))
    refused = rita.post(
        f"/incidents/{key}/postmortem/sections/fault",
        data={"csrf_token": csrf, "base_version": "1", "text": "Mine, typed at length"},
    )
    assert refused.status_code == 409
    assert "Tom Techlead saved version 2 while you were editing (Fault)" in refused.text
    assert ">\nMine, typed at length</textarea>" in refused.text
    assert "Tom&#39;s view" in refused.text  # the newer text, beside
    assert 'name="base_version" value="2"' in refused.text  # saving again is deliberate
    bad = rita.post(
        f"/incidents/{key}/postmortem/sections/five_whys",
        data={"csrf_token": csrf, "base_version": "2", "why_0": "", "answer_0": "x"},
    )
    assert bad.status_code == 422 and "Five whys step 1 has no why" in bad.text


def test_review_by_form_and_the_list(db, browser, resolved, responder, admin):
    key = resolved()
    with db.begin() as session:
        rita_ = session.get(User, responder.id)
        complete = PostmortemSave(
            base_version=1,
            five_whys=[{"why": "Why?", "answer": "Because."}],
            root_cause="A halved pool.",
            root_cause_category="Change",
        )
        postmortems.save(session, rita_, key, complete)
    rita, csrf = browser(responder)
    page = rita.get(f"/incidents/{key}/postmortem").text
    assert 'data-move="in_review">Ask for review</button>' in page
    sent = rita.post(
        f"/incidents/{key}/postmortem/status", data={"csrf_token": csrf, "status": "in_review"}
    )
    assert "The postmortem is in review." in sent.text
    assert "Nobody who wrote in it or owns it approves it." in sent.text
    ada, ada_csrf = browser(admin)
    approved = ada.post(
        f"/incidents/{key}/postmortem/status", data={"csrf_token": ada_csrf, "status": "approved"}
    )
    assert "The postmortem is approved." in approved.text
    assert "/postmortem/sections/" not in approved.text  # no editing once approved
    listing = rita.get("/postmortems?status=approved").text
    assert f'data-key="{key}"' in listing
    assert '<a href="/postmortems" aria-current="page">Postmortems</a>' in listing


def test_a_restricted_incident_keeps_its_postmortem_page_restricted(
    browser, resolved, responder, make_user
):
    key = resolved(restricted=True)
    otto, _ = browser(make_user(name="Otto Outsider"))
    assert otto.get(f"/incidents/{key}/postmortem").status_code == 404
    assert key not in otto.get("/postmortems").text


def test_the_page_prints_without_its_forms(client):
    css = client.get("/static/tocsin.css").text
    printing = css.rsplit("@media print", 1)[1]
    assert ".pm-edit" in printing and ".pm-review" in printing


def test_the_blameless_check_shows_beside_the_section(browser, api_as, resolved, responder):
    key = resolved()
    rita, csrf = browser(responder)
    rita.post(
        f"/incidents/{key}/postmortem/sections/fault",
        data={"csrf_token": csrf, "base_version": "1", "text": "It was human error."},
    )
    page = rita.get(f"/incidents/{key}/postmortem").text
    fault = page.split('id="section-fault"', 1)[1].split("</section>", 1)[0]
    assert '<li class="pm-finding" data-kind="phrase"><mark>human error</mark>' in fault
    assert "characters 7\u201318" in fault
    found = api_as(responder).get(f"/api/v1/incidents/{key}/postmortem/findings").json()
    assert [(f["section"], f["text"], f["start"], f["end"]) for f in found] == [
        ("fault", "human error", 7, 18)
    ]
    assert found[0]["suggestion"].startswith("Say which safeguard was missing")


def test_a_dismissed_finding_stays_visible_to_the_reviewer(
    browser, api_as, resolved, responder, admin
):
    key = resolved()
    rita, csrf = browser(responder)
    rita.post(
        f"/incidents/{key}/postmortem/sections/fault",
        data={"csrf_token": csrf, "base_version": "1", "text": "The careless default."},
    )
    dismissed = rita.post(
        f"/incidents/{key}/postmortem/findings/dismiss",
        data={"csrf_token": csrf, "section": "fault", "text": "careless"},
    )
    assert "Dismissed: the reviewer sees that you kept these words." in dismissed.text
    found = api_as(admin).get(f"/api/v1/incidents/{key}/postmortem/findings").json()
    assert [(f["text"], f["dismissed_by"]["name"]) for f in found] == [("careless", responder.name)]
    ada, _ = browser(admin)
    assert f"Dismissed by {responder.name}." in ada.get(f"/incidents/{key}/postmortem").text
    api = api_as(responder)
    missing = api.post(
        f"/api/v1/incidents/{key}/postmortem/findings/dismiss",
        json={"section": "fault", "text": "nothing like it"},
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "text"


def publish(db, key: str, writer: User, approver: User, category: str, root: str) -> None:
    with db.begin() as session:
        w, a = session.get(User, writer.id), session.get(User, approver.id)
        complete = PostmortemSave(
            base_version=postmortems.get_postmortem(session, w, key).revision.version,
            five_whys=[{"why": "Why?", "answer": "Because."}],
            root_cause=root,
            root_cause_category=category,
        )
        postmortems.save(session, w, key, complete)
        postmortems.move(session, w, key, StatusMove(status="in_review"))
        postmortems.move(session, a, key, StatusMove(status="approved"))
        postmortems.move(session, w, key, StatusMove(status="published"))


def test_the_blog_lists_published_postmortems_newest_first_with_filters(
    db, clock, browser, resolved, responder, admin, make_user
):
    first, second, draft = resolved(), resolved(), resolved()
    secret = resolved(restricted=True)
    publish(db, first, responder, admin, "Change", "A halved pool.")
    clock.advance(days=40)  # published in April
    publish(db, second, responder, admin, "Scale", "Black Friday traffic.")
    publish(db, secret, responder, admin, "Bug", "Leaked keys.")
    rita, _ = browser(responder)
    page = rita.get("/postmortems/blog").text
    keys = re.findall(r'<article class="card blog-entry" data-key="([^"]+)"', page)
    assert keys == [secret, second, first]  # newest first; drafts are not on the blog
    assert draft not in keys
    by_category = rita.get("/postmortems/blog", params={"category": "Change"}).text
    assert re.findall(r'data-key="([^"]+)"', by_category) == [first]
    march = rita.get("/postmortems/blog", params={"month": "2026-03"}).text
    assert re.findall(r'data-key="([^"]+)"', march) == [first]
    assert rita.get("/postmortems/blog", params={"category": "Gremlins"}).status_code == 422
    # Full-text search over what was published, the same on SQLite (FTS5) and PostgreSQL.
    found = rita.get("/postmortems/blog", params={"q": "Black Friday"}).text
    assert re.findall(r'data-key="([^"]+)"', found) == [second]
    stems = rita.get("/api/v1/postmortems", params={"q": "halved pools"}).json()
    assert [p["incident_key"] for p in stems] == [first]
    assert rita.get("/api/v1/postmortems", params={"q": '"OR (*'}).json() == []
    assert rita.get("/api/v1/postmortems", params={"q": "Checkout fails"}).status_code == 200
    otto, _ = browser(make_user(name="Otto Outsider"))
    assert secret not in otto.get("/postmortems/blog").text
    assert otto.get(f"/postmortems/blog/{secret}").status_code == 404
    assert otto.get("/postmortems/blog", params={"q": "leaked keys"}).text.count("data-key") == 0
    entry = rita.get(f"/postmortems/blog/{first}").text
    assert "A halved pool." in entry and "<form" not in entry.split('id="main"', 1)[1]
    assert rita.get(f"/postmortems/blog/{draft}").status_code == 404


def test_the_blog_shows_what_was_published_while_an_amendment_is_drafted(
    db, browser, resolved, responder, admin
):
    key = resolved()
    publish(db, key, responder, admin, "Change", "A halved pool.")
    with db.begin() as session:
        rita_ = session.get(User, responder.id)
        postmortems.move(session, rita_, key, StatusMove(status="draft", comment="More"))
        version = postmortems.get_postmortem(session, rita_, key).revision.version
        postmortems.save(
            session, rita_, key, PostmortemSave(base_version=version, root_cause="Draft words")
        )
    rita, _ = browser(responder)
    entry = rita.get(f"/postmortems/blog/{key}").text
    assert "A halved pool." in entry and "Draft words" not in entry


def test_the_blog_has_an_atom_feed_at_a_secret_address(
    db, client, browser, resolved, responder, admin, make_user
):
    import feedparser

    key = resolved()
    secret = resolved(restricted=True)
    publish(db, key, responder, admin, "Change", "A halved pool.")
    publish(db, secret, responder, admin, "Bug", "Leaked keys.")
    otto, csrf = browser(make_user(name="Otto Outsider"))
    shown = otto.post("/postmortems/feed", data={"csrf_token": csrf}).text
    url = re.search(r'<p class="secret" id="feed-url">([^<]+)</p>', shown).group(1)
    path = unescape(url).removeprefix("http://testserver")
    answer = client.get(path)  # a feed reader: no login
    assert answer.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "What we learned: postmortems"
    assert [e.title for e in parsed.entries] == [f"{key}: Checkout fails"]  # not the restricted
    assert parsed.entries[0].link == f"http://testserver/postmortems/blog/{key}"
    # A new address ends the old one; a made-up one says nothing.
    otto.post("/postmortems/feed", data={"csrf_token": csrf})
    assert client.get(path).status_code == 404
    assert client.get("/postmortems/feed.atom?token=tpf_0123456789abcdef_nope").status_code == 404
