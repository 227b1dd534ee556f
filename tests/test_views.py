"""The incident pages through TestClient: what a person sees, and what their forms do."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tests.conftest import browser_login
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.deps import SESSION_COOKIE
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, StatusChange
from tocsin.postmortems import service as postmortems
from tocsin.postmortems.schemas import PostmortemSave, StatusMove


@dataclass
class Web:
    """A logged-in browser: its client, who it is, and the CSRF token its forms carry."""

    client: TestClient
    user: User
    csrf: str

    def get(self, url: str, **kwargs):
        return self.client.get(url, headers={"accept": "text/html"}, **kwargs)

    def post(self, url: str, data: dict | list | None = None, **kwargs):
        form = [("csrf_token", self.csrf)]
        items = data.items() if isinstance(data, dict) else (data or [])
        for name, value in items:
            values = value if isinstance(value, list) else [value]
            form += [(name, v) for v in values]
        body = "&".join(f"{_quote(k)}={_quote(str(v))}" for k, v in form)
        headers = {"accept": "text/html", "content-type": "application/x-www-form-urlencoded"}
        return self.client.post(url, content=body, headers=headers, **kwargs)


def _quote(value: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(value)


@pytest.fixture
def web_as(app, db) -> Iterator[Callable[[User], Web]]:
    """A browser session for `user`, opened through the service (the login form itself,
    with its deliberately slow password hash, is driven once below and in test_browser)."""
    clients: list[TestClient] = []

    def as_user(user: User) -> Web:
        with db.begin() as session:
            cookie, login = auth.start_login(session, session.get(User, user.id), 1)
            csrf = login.csrf_token
        client = TestClient(app, cookies={SESSION_COOKIE: cookie})
        clients.append(client)
        return Web(client, user, csrf)

    yield as_user
    for client in clients:
        client.close()


def test_logging_in_through_the_form_lands_on_the_list(app, responder):
    with TestClient(app) as client:
        csrf = browser_login(client, responder)
        page = client.get("/incidents", headers={"accept": "text/html"}).text
    assert f'<a href="/settings" title="Your profile and API tokens">{responder.name}</a>' in page
    assert f'name="csrf_token" value="{csrf}"' in page


@pytest.fixture
def rita(web_as, responder) -> Web:
    return web_as(responder)


@pytest.fixture
def catalogue_ids(db, admin) -> dict[str, int]:
    with db.begin() as session:
        ids = {
            "checkout": catalogue.create_service(
                session, admin, ServiceCreate(name="Checkout API")
            ),
            "search": catalogue.create_service(session, admin, ServiceCreate(name="Search")),
            "shop": catalogue.create_product(session, admin, ProductCreate(name="Web shop")),
            "app": catalogue.create_product(session, admin, ProductCreate(name="Mobile app")),
        }
        return {name: thing.id for name, thing in ids.items()}


@pytest.fixture
def declare(db, make_user) -> Callable[..., str]:
    """Declares through the service (fast set-up); returns the key."""
    approvers: list[User] = []

    def approve_postmortem(session, actor: User, key: str) -> None:
        """A major incident closes once its postmortem is approved, by someone else."""
        complete = PostmortemSave(
            base_version=1,
            five_whys=[{"why": "Why?", "answer": "Because."}],
            root_cause="A bad release.",
            root_cause_category="Change",
        )
        postmortems.save(session, actor, key, complete)
        postmortems.move(session, actor, key, StatusMove(status="in_review"))
        approver = session.get(User, approvers[0].id)
        postmortems.move(session, approver, key, StatusMove(status="approved"))

    def declare_as(user: User, summary: str, severity: str = "SEV2", **fields) -> str:
        status = fields.pop("status", None)
        if status == "closed" and not approvers:
            approvers.append(make_user(Role.ADMIN, name="Ann Approver"))
        with db.begin() as session:
            actor = session.get(User, user.id)
            data = IncidentCreate(summary=summary, severity=severity, **fields)
            key = incidents.declare_incident(session, actor, data).key
            path = {"fixing": ["fixing"], "resolved": ["fixing", "resolved"]}.get(status, [])
            if status in ("closed", "cancelled"):
                path = ["fixing", "resolved", "closed"] if status == "closed" else ["cancelled"]
            for step in path:
                if step == "closed" and postmortems.is_major(
                    incidents.get_incident(session, actor, key)
                ):
                    approve_postmortem(session, actor, key)
                change = StatusChange(status=step, resolution_summary="fixed", reason="test")
                incidents.change_status(session, actor, key, change)
            return key

    return declare_as


class Page(HTMLParser):
    """Just enough of a page to check what a person can see and do on it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.keys: list[str] = []
        self._in_key = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            method = (attributes.get("method") or "get").lower()
            self.forms.append({"action": attributes.get("action"), "method": method, "csrf": None})
        if tag == "input" and attributes.get("name") == "csrf_token" and self.forms:
            self.forms[-1]["csrf"] = attributes.get("value")
        if tag == "li" and attributes.get("data-key"):
            self.keys.append(attributes["data-key"])

    def post_actions(self) -> list[str]:
        return [f["action"] for f in self.forms if f["method"] == "post"]


def workflow_actions(html: str) -> list[str]:
    """The moves offered in the workflow area, in order."""
    area = html.split('id="workflow"', 1)[1].split("</section>", 1)[0] if "workflow" in html else ""
    found = re.findall(r'<(?:button|details)[^>]*data-action="(\w+)"', area)
    return list(dict.fromkeys(found))


def flash_text(html: str) -> str | None:
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', html, re.S)
    return f"{found.group(1)}|{unescape(found.group(2).strip())}" if found else None


def events(html: str) -> list[str]:
    """The timeline as read on the page, newest first."""
    return [unescape(e) for e in re.findall(r'<div class="what">(.*?)</div>', html, re.S)]


# ---------------------------------------------------------------- the list and its filters


def test_list_filters_by_status_severity_service_text_and_mine(
    rita, responder, make_user, declare, catalogue_ids
):
    other = make_user(Role.RESPONDER, name="Olga Other")
    declare(
        responder, "Checkout fails for EU customers", "SEV1", service_id=catalogue_ids["checkout"]
    )
    declare(
        responder, "Search is slow", "SEV3", service_id=catalogue_ids["search"], status="fixing"
    )
    declare(other, "Payment emails delayed", "SEV2", status="resolved")
    declare(other, "Login page typo", "SEV3", status="cancelled")

    def keys(query: str = "") -> list[str]:
        response = rita.get(f"/incidents{query}")
        assert response.status_code == 200, response.text
        return Page(response.text).keys

    assert keys() == ["INC-4", "INC-3", "INC-2", "INC-1"]
    assert keys("?status=active") == ["INC-2", "INC-1"]
    assert keys("?status=open") == ["INC-1"]
    assert keys("?status=resolved") == ["INC-3"]
    assert keys("?severity=SEV3") == ["INC-4", "INC-2"]
    assert keys(f"?service_id={catalogue_ids['search']}") == ["INC-2"]
    assert keys("?q=checkout") == ["INC-1"]
    assert keys("?q=INC-3") == ["INC-3"]
    assert keys("?status=active&mine=1") == ["INC-2", "INC-1"]
    assert keys("?status=resolved&mine=1") == []
    # What the filter form sends when nothing is chosen: everything.
    assert keys("?q=&status=&severity=&service_id=") == ["INC-4", "INC-3", "INC-2", "INC-1"]


def test_list_shows_the_key_facts_and_marks_the_current_quick_filter(rita, responder, declare):
    declare(responder, "Checkout fails for EU customers", "SEV1")
    page = rita.get("/incidents?status=active").text
    assert '<a href="/incidents?status=active" aria-current="page">Active</a>' in page
    assert 'data-severity="SEV1"' in page
    assert 'data-status="open"' in page
    assert f"IM</abbr> {responder.name}" in page
    assert "Service unknown" in page
    assert '<option value="active" selected>' in page

    empty = rita.get("/incidents?severity=SEV3").text
    assert "No incidents match these filters." in empty
    assert 'href="/incidents">Show all incidents' in empty


def test_a_bad_filter_value_is_a_readable_page_not_a_crash(rita):
    response = rita.get("/incidents?severity=SEV9")
    assert response.status_code == 422
    assert "Severity" in response.text and "<html" in response.text


# ---------------------------------------------------------------- declaring


def test_declare_form_explains_severities_and_declares(rita, responder, catalogue_ids):
    form = rita.get("/incidents/new").text
    assert "down for a subset of customers" in form
    assert "inconvenience to customers, with a workaround" in form
    response = rita.post(
        "/incidents/new",
        {
            "summary": "Checkout fails for EU customers",
            "severity": "SEV2",
            "service_id": str(catalogue_ids["checkout"]),
            "product_ids": [str(catalogue_ids["shop"]), str(catalogue_ids["app"])],
            "description": "500s at payment.\r\nReported by ACME.",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/incidents/INC-1"
    page = rita.get("/incidents/INC-1").text
    assert flash_text(page) == (
        "ok|INC-1 is declared. You are its incident manager. "
        "The on-call of Checkout API is being paged."
    )
    assert "Checkout API" in page and "Mobile app, Web shop" in page
    # Line breaks from the browser (CRLF) are stored as typed (LF).
    assert '<p class="description">500s at payment.\nReported by ACME.</p>' in page


def test_declaring_without_a_service_says_nobody_was_paged(rita, catalogue_ids):
    """Journey 4: a support engineer knows the product, not the service behind it."""
    rita.post(
        "/incidents/new",
        {
            "summary": "Customers see errors",
            "severity": "SEV2",
            "product_ids": [str(catalogue_ids["shop"])],
        },
        follow_redirects=False,
    )
    page = rita.get("/incidents/INC-1").text
    assert flash_text(page) == (
        "info|INC-1 is declared. You are its incident manager. "
        "Nobody was paged: no faulty service was chosen. Page people below."
    )
    # It stays said on the incident after the flash is gone.
    again = rita.get("/incidents/INC-1").text
    assert "Nobody has been paged for this incident: no faulty service is named." in again


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"summary": "   "}, "Summary is required.", "summary"),
        ({"summary": "x" * 201}, "Summary is too long: at most 200 characters.", "summary"),
        ({"severity": ""}, "Severity: choose 'SEV1', 'SEV2' or 'SEV3'.", "severity"),
        ({"service_id": "999999"}, "No service with id 999999.", "service_id"),
    ],
)
def test_declare_errors_re_render_with_the_message_and_keep_what_was_typed(
    rita, catalogue_ids, change, message, field, db
):
    typed = {
        "summary": "Checkout fails for EU customers",
        "severity": "SEV1",
        "service_id": str(catalogue_ids["checkout"]),
        "product_ids": [str(catalogue_ids["shop"])],
        "description": "Reported by ACME <support@acme.example>",
        "restricted": "on",
        **change,
    }
    response = rita.post("/incidents/new", typed, follow_redirects=False)
    assert response.status_code == 422, response.text
    page = response.text
    assert "The incident is not declared yet." in page
    assert message in unescape(page)
    assert f'aria-describedby="{field}-error"' in page
    if field != "summary":
        assert 'value="Checkout fails for EU customers"' in page
    if field != "severity":
        assert 'value="SEV1" required checked' in page
    assert re.search(rf'value="{catalogue_ids["shop"]}" checked', page)
    assert re.search(rf'value="{catalogue_ids["app"]}" >', page)  # not chosen, not checked
    assert "Reported by ACME &lt;support@acme.example&gt;</textarea>" in page
    assert 'name="restricted" checked' in page
    assert rita.get("/incidents").text.count('class="incident ') == 0  # nothing was written


def test_what_people_type_is_shown_as_text_never_as_markup(rita, responder, declare):
    declare(responder, "<script>alert(1)</script> checkout", description="<b>bold</b>")
    page = rita.get("/incidents/INC-1").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; checkout" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


# ---------------------------------------------------------------- the incident page


@pytest.mark.parametrize(
    ("status", "moves"),
    [
        ("open", ["fixing", "cancelled"]),
        ("fixing", ["resolved", "cancelled"]),
        ("resolved", ["closed", "fixing"]),
        ("closed", []),
        ("cancelled", []),
    ],
)
def test_workflow_buttons_offer_only_the_allowed_moves(rita, responder, declare, status, moves):
    key = declare(responder, "Checkout fails", status=status)
    page = rita.get(f"/incidents/{key}").text
    assert f'data-status="{status}"' in page
    assert workflow_actions(page) == moves
    if not moves:
        assert 'id="workflow"' not in page


def test_resolving_from_the_page_needs_words_and_shows_them(rita, responder, declare):
    key = declare(responder, "Checkout fails", status="fixing")
    page = rita.get(f"/incidents/{key}").text
    assert 'name="resolution_summary" rows="3" required' in page

    refused = rita.post(f"/incidents/{key}/status", {"status": "resolved"})
    assert flash_text(refused.text) == "error|Moving to resolved needs what resolved it."
    assert 'data-status="fixing"' in refused.text

    done = rita.post(
        f"/incidents/{key}/status",
        {"status": "resolved", "resolution_summary": "Rolled back deploy 4512."},
    )
    assert flash_text(done.text) == f"ok|{key} is now resolved."
    assert "<strong>Resolved:</strong> Rolled back deploy 4512." in done.text


def test_an_illegal_move_posted_anyway_says_which_moves_are_allowed(rita, responder, declare):
    key = declare(responder, "Checkout fails")
    page = rita.post(f"/incidents/{key}/status", {"status": "closed"}).text
    assert flash_text(page) == (
        "error|An incident that is open cannot move to closed; allowed: fixing, cancelled."
    )


def test_every_form_that_changes_something_carries_the_csrf_token(
    rita, responder, make_user, declare, catalogue_ids
):
    key = declare(responder, "Checkout fails")
    for url in ("/incidents", "/incidents/new", f"/incidents/{key}"):
        forms = Page(rita.get(url).text).forms
        posts = [f for f in forms if f["method"] == "post"]
        assert posts, url
        for form in posts:
            assert form["csrf"] == rita.csrf, (url, form["action"])


def test_the_timeline_is_newest_first_with_notes_and_stars(rita, responder, declare):
    key = declare(responder, "Checkout fails")
    rita.post(f"/incidents/{key}/status", {"status": "fixing"})
    noted = rita.post(
        f"/incidents/{key}/notes", {"text": "Error rate\r\ndropping", "starred": "on"}
    )
    assert flash_text(noted.text) == "ok|Note added, starred as important."
    assert events(noted.text) == [
        "Error rate\ndropping",
        "Status changed from open to fixing",
        f"{responder.name} declared {key} (SEV2): Checkout fails",
    ]
    important = rita.get(f"/incidents/{key}?starred=1").text
    assert events(important) == ["Error rate\ndropping"]

    event_id = re.search(r'id="event-(\d+)"[^>]*data-kind="status_changed"', noted.text).group(1)
    starred = rita.post(f"/incidents/{key}/timeline/{event_id}/star", {"starred": "true"})
    assert flash_text(starred.text) == "ok|Starred as important."
    assert len(events(rita.get(f"/incidents/{key}?starred=1").text)) == 2

    empty = rita.post(f"/incidents/{key}/notes", {"text": "   "})
    assert flash_text(empty.text) == "error|A note needs some text."


def test_saving_details_records_only_what_changed(rita, responder, declare):
    key = declare(responder, "Checkout fails", description="line one\nline two")
    page = rita.get(f"/incidents/{key}").text
    impact = re.search(r'name="impact_started_at" type="datetime-local" value="([^"]*)"', page)[1]
    detected = re.search(r'name="detected_at" type="datetime-local" value="([^"]*)"', page)[1]
    saved = rita.post(
        f"/incidents/{key}/edit",
        {
            "summary": "Checkout fails for EU customers",
            "severity": "SEV2",
            "service_id": "",
            "description": "line one\r\nline two",  # as a browser sends the textarea back
            "impact_started_at": impact,
            "detected_at": detected,
            "restricted_present": "1",
        },
    )
    assert flash_text(saved.text) == "ok|Saved."
    timeline = events(saved.text)
    assert timeline[0] == "Summary changed to 'Checkout fails for EU customers'"
    assert len(timeline) == 2, timeline  # no "description changed", no "impact start corrected"


def test_the_incident_manager_hands_over_and_the_new_one_accepts(
    web_as, responder, make_user, declare
):
    sam = make_user(Role.RESPONDER, name="Sam Second")
    key = declare(responder, "Checkout fails")
    rita = web_as(responder)
    asked = rita.post(f"/incidents/{key}/handover", {"to_user_id": str(sam.id), "note": "Shift"})
    assert flash_text(asked.text) == (
        "ok|Asked Sam Second to take over. You stay in charge until they accept."
    )
    assert 'id="handover-ask"' not in asked.text
    assert "Handover to <strong>Sam Second</strong> is waiting" in asked.text

    sam_web = web_as(sam)
    page = sam_web.get(f"/incidents/{key}").text
    assert 'id="handover-ask"' in page
    assert f"{responder.name} asks you to take over as incident manager" in page
    accepted = sam_web.post(f"/incidents/{key}/handover/accept")
    assert flash_text(accepted.text) == "ok|You are now the incident manager."
    assert '<span class="vital-main" id="incident-manager">Sam Second</span>' in accepted.text


# ---------------------------------------------------------------- who sees what


def test_a_viewer_sees_no_buttons_and_no_forms_that_change_anything(
    web_as, viewer, responder, declare
):
    key = declare(responder, "Checkout fails", status="fixing")
    vic = web_as(viewer)
    listing = vic.get("/incidents").text
    assert "Declare incident" not in listing
    assert Page(listing).post_actions() == ["/logout"]
    page = vic.get(f"/incidents/{key}").text
    assert 'data-status="fixing"' in page
    assert Page(page).post_actions() == ["/logout"]
    assert workflow_actions(page) == []
    assert "Edit details" not in page and "Add a note" not in page
    # And posting anyway is refused, with nothing written.
    refused = vic.post(
        f"/incidents/{key}/status", {"status": "resolved", "resolution_summary": "x"}
    )
    assert flash_text(refused.text).startswith("error|You need the responder role")
    assert 'data-status="fixing"' in refused.text


def test_restricted_incidents_are_listed_only_for_participants_and_admins(
    web_as, responder, make_user, admin, declare
):
    outsider = make_user(Role.RESPONDER, name="Otto Outsider")
    declare(responder, "Open to all")
    secret = declare(responder, "Credentials leaked", "SEV1", restricted=True)

    otto = web_as(outsider)
    assert Page(otto.get("/incidents").text).keys == ["INC-1"]
    assert otto.get("/incidents?q=leaked").text.count('class="incident ') == 0
    hidden = otto.get(f"/incidents/{secret}")
    assert hidden.status_code == 404
    assert "Credentials leaked" not in hidden.text

    for insider in (web_as(responder), web_as(admin)):
        listing = insider.get("/incidents").text
        assert Page(listing).keys == [secret, "INC-1"]
        assert '<span class="tag tag-bad">restricted</span>' in listing


def test_flash_messages_appear_once(rita, responder, declare):
    key = declare(responder, "Checkout fails")
    moved = rita.post(f"/incidents/{key}/status", {"status": "fixing"})
    assert flash_text(moved.text) == f"ok|{key} is now fixing."
    assert flash_text(rita.get(f"/incidents/{key}").text) is None
    assert flash_text(rita.get("/incidents").text) is None


def test_a_flash_cookie_from_elsewhere_cannot_inject_markup_or_classes(rita):
    rita.client.cookies.set("tocsin_flash", 'evil"><script>x</script>|hello')
    page = rita.get("/incidents").text
    assert flash_text(page) == "info|hello"
    assert "<script>x</script>" not in page


@pytest.mark.parametrize("junk", ["", "abc", "²", "9" * 30, "0"])
def test_adding_a_team_member_with_a_junk_id_is_a_message_not_a_crash(web_as, admin, db, junk):
    with db.begin() as session:
        team = auth.create_team(session, session.get(User, admin.id), TeamCreate(name="Payments"))
        team_id = team.id
    ada = web_as(admin)
    page = ada.post(f"/teams/{team_id}/members", {"user_id": junk})
    assert page.status_code == 200
    assert flash_text(page.text) == "error|Pick a person to add."


def test_the_add_member_list_offers_only_people_not_yet_in_the_team(web_as, admin, make_user, db):
    bob = make_user(name="Bob Builder")
    make_user(name="Cyd Charisse")
    with db.begin() as session:
        actor = session.get(User, admin.id)
        team = auth.create_team(session, actor, TeamCreate(name="Payments"))
        auth.add_team_member(session, actor, team.id, bob.id)
    page = web_as(admin).get("/teams").text
    offered = re.search(r'<select name="user_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "Cyd Charisse" in offered and "Bob Builder" not in offered
