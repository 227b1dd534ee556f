"""People and access: login and logout, passwords, CSRF, API tokens, roles, teams, audit log."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import PASSWORD, assert_error, browser_login
from tocsin.app import create_app
from tocsin.auth import service as auth
from tocsin.auth import throttle
from tocsin.auth.models import ApiToken, LoginSession, LoginThrottle, Role, Team, User

NEW_PASSWORD = "a-brand-new-passphrase"


def form_token(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def session_cookie_header(response) -> str:
    """The Set-Cookie line that carries the login, or '' when there is none."""
    for line in response.headers.get_list("set-cookie"):
        if line.startswith("tocsin_session=") and not line.startswith('tocsin_session="";'):
            return line
    return ""


def submit_login(client: TestClient, email: str, password: str, next: str = "/incidents"):
    token = form_token(client.get("/login", params={"next": next}).text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next},
        follow_redirects=False,
    )


@pytest.fixture
def browser(app):
    """Fresh clients, each with its own cookie jar, closed at the end.

    Like `api_as`, they do not run the app's lifespan again: `client` already did.
    """
    opened: list[TestClient] = []

    def open_browser(**options) -> TestClient:
        options = {"follow_redirects": False, **options}
        opened.append(TestClient(options.pop("app", app), **options))
        return opened[-1]

    yield open_browser
    for each in opened:
        each.close()


def users_in_db(db) -> list[User]:
    with db.begin() as session:
        return list(session.scalars(select(User).order_by(User.id)))


# ---------------------------------------------------------------- logging in and out


def test_logging_in_through_the_form_sets_a_session_cookie_scripts_cannot_read(browser, responder):
    anna = browser()
    response = submit_login(anna, responder.email, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/incidents"
    cookie = session_cookie_header(response)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http here; see the https test below
    me = anna.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == responder.email
    assert anna.get("/incidents").status_code == 200


def test_behind_https_the_session_cookie_is_secure(settings, db, browser, responder):
    secure_app = create_app(settings.model_copy(update={"base_url": "https://tocsin.example"}), db)
    anna = browser(app=secure_app, base_url="https://testserver")
    response = submit_login(anna, responder.email, PASSWORD)
    assert response.status_code == 303
    assert "secure" in [p.strip().lower() for p in session_cookie_header(response).split(";")]


def test_email_is_not_case_sensitive_at_login(browser, responder):
    response = submit_login(browser(), responder.email.upper(), PASSWORD)
    assert response.status_code == 303 and session_cookie_header(response)


@pytest.mark.parametrize(
    "email, password",
    [("known", "wrong-password-123"), ("nobody@example.com", PASSWORD), ("known", "")],
    ids=["wrong password", "unknown email", "empty password"],
)
def test_a_wrong_password_is_refused_with_401_and_no_cookie(browser, responder, email, password):
    anna = browser()
    response = submit_login(anna, responder.email if email == "known" else email, password)
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert session_cookie_header(response) == ""
    assert "tocsin_session" not in anna.cookies
    assert anna.get("/api/v1/me").status_code == 401


def test_a_password_guesser_is_slowed_down_but_the_person_elsewhere_is_not(
    browser, responder, clock, db
):
    guesser = browser(client=("203.0.113.7", 40000))
    for attempt in range(throttle.ADDRESS_FREE_FAILURES):
        assert submit_login(guesser, responder.email, f"guess-{attempt}").status_code == 401
    waiting = submit_login(guesser, responder.email, PASSWORD)  # even the right one waits
    assert waiting.status_code == 429
    assert waiting.headers["retry-after"] == "60"
    assert "Too many wrong passwords. Try again in a minute." in waiting.text
    assert "tocsin_session" not in guesser.cookies

    # The person, on their own laptop, logs in as usual.
    assert (
        submit_login(browser(client=("198.51.100.2", 50000)), responder.email, PASSWORD).status_code
        == 303
    )

    # Each further failure doubles the wait; a right password after it clears the count.
    clock.advance(seconds=61)
    assert submit_login(guesser, responder.email, "guess-again").status_code == 401
    assert submit_login(guesser, responder.email, PASSWORD).headers["retry-after"] == "120"
    clock.advance(seconds=121)
    assert submit_login(guesser, responder.email, PASSWORD).status_code == 303
    assert submit_login(guesser, responder.email, "one-slip").status_code == 401

    # The counters keep no address in clear, and housekeeping forgets old ones.
    with db.begin() as session:
        keys = [row.key for row in session.scalars(select(LoginThrottle))]
        assert keys and not any("203.0.113.7" in k or "@" in k for k in keys)
        clock.advance(minutes=16)
        auth.forget_old_login_failures(session, clock.current)
        session.commit()
        assert session.scalars(select(LoginThrottle)).all() == []


def test_one_place_trying_many_addresses_is_slowed_down(browser, responder):
    sprayer = browser(client=("203.0.113.9", 40000))
    for n in range(throttle.PLACE_FREE_FAILURES):
        assert submit_login(sprayer, f"user{n}@example.com", "Winter2026!").status_code == 401
    assert submit_login(sprayer, responder.email, PASSWORD).status_code == 429


@pytest.mark.parametrize(
    "email", ["rita\x00@example.com", "x" * 300 + "@example.com", "   "], ids=repr
)
def test_an_impossible_email_is_refused_like_a_wrong_one(browser, responder, email):
    response = submit_login(browser(raise_server_exceptions=False), email, PASSWORD)
    assert response.status_code == 401
    assert "Wrong email or password." in response.text


@pytest.mark.parametrize(
    "cookie", ["tss_0123456\x0089abcdef_x", "tss_0123456789abcdef_", "garbage", "tss_" + "a" * 5000]
)
def test_a_made_up_session_cookie_is_no_login(browser, cookie):
    anna = browser(raise_server_exceptions=False)
    anna.cookies.set("tocsin_session", cookie)
    assert_error(anna.get("/api/v1/me"), 401, code="unauthenticated")


def test_a_deactivated_user_cannot_log_in(browser, api_as, admin, responder):
    api_as(admin).patch(f"/api/v1/users/{responder.id}", json={"is_active": False})
    response = submit_login(browser(), responder.email, PASSWORD)
    assert response.status_code == 401
    assert "Wrong email or password." in response.text  # no hint that the account exists
    assert session_cookie_header(response) == ""


def test_deactivating_someone_ends_their_sessions_and_stops_their_tokens(
    browser, api_as, admin, responder, db
):
    anna = browser()
    browser_login(anna, responder)
    as_responder = api_as(responder)
    assert as_responder.get("/api/v1/me").status_code == 200

    api_as(admin).patch(f"/api/v1/users/{responder.id}", json={"is_active": False})

    assert_error(anna.get("/api/v1/me"), 401, code="unauthenticated")
    assert anna.get("/settings", headers={"accept": "text/html"}).status_code == 303
    assert_error(as_responder.get("/api/v1/me"), 401, code="unauthenticated")
    with db.begin() as session:
        assert session.scalars(select(LoginSession).filter_by(user_id=responder.id)).all() == []


def test_logout_ends_the_session_on_the_server(browser, responder, db):
    anna = browser()
    csrf = browser_login(anna, responder)
    stolen = anna.cookies["tocsin_session"]

    response = anna.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "tocsin_session" not in anna.cookies

    # Someone who copied the cookie before logout cannot use it afterwards.
    thief = browser()
    thief.cookies.set("tocsin_session", stolen)
    assert_error(thief.get("/api/v1/me"), 401, code="unauthenticated")
    page = thief.get("/settings", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    with db.begin() as session:
        assert session.scalars(select(LoginSession)).all() == []


def test_another_site_cannot_log_you_out(browser, responder):
    anna = browser()
    browser_login(anna, responder)
    assert_error(anna.post("/logout"), 403, code="csrf_failed")
    assert anna.get("/api/v1/me").status_code == 200


def test_a_session_lasts_the_configured_hours(browser, responder, clock):
    anna = browser()
    browser_login(anna, responder)
    clock.advance(hours=11, minutes=59)
    assert anna.get("/api/v1/me").status_code == 200
    clock.advance(minutes=1)
    assert_error(anna.get("/api/v1/me"), 401, code="unauthenticated")


def test_after_login_you_land_on_the_page_you_asked_for(browser, responder):
    anna = browser()
    asked = anna.get("/incidents?status=open", headers={"accept": "text/html"})
    assert asked.status_code == 303
    login_url = asked.headers["location"]
    assert login_url.startswith("/login?next=")
    form = anna.get(login_url).text
    next_value = form.split('name="next" value="', 1)[1].split('"', 1)[0]
    landed = anna.post(
        "/login",
        data={
            "email": responder.email,
            "password": PASSWORD,
            "csrf_token": form_token(form),
            "next": next_value,
        },
    )
    assert landed.status_code == 303
    assert landed.headers["location"] == "/incidents?status=open"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/incidents",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " //evil.example",
        "/\t/evil.example",
    ],
)
def test_next_never_sends_you_to_another_site(browser, responder, target):
    anna = browser()
    response = submit_login(anna, responder.email, PASSWORD, next=target)
    assert response.status_code == 303
    landing = urlsplit(urljoin("http://testserver/login", response.headers["location"]))
    assert (landing.scheme, landing.netloc) == ("http", "testserver")


# ---------------------------------------------------------------- the login form's own CSRF


def test_a_login_posted_from_another_site_is_refused(browser, responder):
    # The attacker's page can copy a token from its own visit, but cannot set our cookie.
    attacker = browser()
    their_token = form_token(attacker.get("/login").text)
    victim = browser()
    forged = victim.post(
        "/login",
        data={"email": responder.email, "password": PASSWORD, "csrf_token": their_token},
    )
    assert forged.status_code == 400
    assert "expired" in forged.text
    assert session_cookie_header(forged) == ""
    assert victim.get("/api/v1/me").status_code == 401


def test_a_login_with_a_token_that_does_not_match_the_cookie_is_refused(browser, responder):
    anna = browser()
    anna.get("/login")
    for wrong in ("", "not-the-token"):
        response = anna.post(
            "/login", data={"email": responder.email, "password": PASSWORD, "csrf_token": wrong}
        )
        assert response.status_code == 400
        assert session_cookie_header(response) == ""
    assert anna.get("/api/v1/me").status_code == 401


def test_a_login_with_a_non_ascii_token_is_refused_not_a_server_error(browser, responder):
    anna = browser(raise_server_exceptions=False)
    anna.get("/login")
    response = anna.post(
        "/login", data={"email": responder.email, "password": PASSWORD, "csrf_token": "é"}
    )
    assert response.status_code == 400
    assert session_cookie_header(response) == ""


# ---------------------------------------------------------------- passwords


def test_passwords_are_stored_as_argon2_hashes(api_as, admin, make_user, db):
    make_user(Role.RESPONDER, email="rita@example.com")
    created = api_as(admin).post(
        "/api/v1/users", json={"email": "gen@example.com", "name": "Gen Erated"}
    )
    generated = created.json()["generated_password"]
    assert generated
    stored = {u.email: u for u in users_in_db(db)}
    hasher = PasswordHasher()
    for email, password in (("rita@example.com", PASSWORD), ("gen@example.com", generated)):
        user = stored[email]
        assert user.password_hash.startswith("$argon2id$")
        assert password not in user.password_hash
        assert hasher.verify(user.password_hash, password)


def test_a_generated_password_is_shown_once_and_works(api_as, admin, browser):
    created = api_as(admin).post(
        "/api/v1/users", json={"email": "new@example.com", "name": "New Person"}
    )
    assert created.status_code == 201
    generated = created.json()["generated_password"]
    fetched = api_as(admin).get(f"/api/v1/users/{created.json()['id']}").json()
    assert "generated_password" not in fetched and generated not in str(fetched)
    assert submit_login(browser(), "new@example.com", generated).status_code == 303


# ---------------------------------------------------------------- CSRF on forms and the API


@pytest.mark.parametrize(
    "sent",
    [{}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": "é"}],
    ids=["missing", "empty", "wrong", "non-ascii"],
)
def test_a_form_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    browser, admin, api_as, sent
):
    ada = browser()
    browser_login(ada, admin)
    refused = ada.post("/teams", data={"name": "Payments", **sent})
    assert_error(refused, 403, code="csrf_failed")
    page = ada.post("/teams", data={"name": "Payments", **sent}, headers={"accept": "text/html"})
    assert page.status_code == 403 and "another site" in page.text
    assert api_as(admin).get("/api/v1/teams").json() == []


def test_the_csrf_token_of_another_session_does_not_work(browser, admin, responder, api_as):
    other_token = browser_login(browser(), responder)
    ada = browser()
    browser_login(ada, admin)
    assert_error(
        ada.post("/teams", data={"name": "Payments", "csrf_token": other_token}),
        403,
        code="csrf_failed",
    )
    assert api_as(admin).get("/api/v1/teams").json() == []


def test_a_form_post_with_the_right_csrf_token_goes_through(browser, admin, api_as):
    ada = browser()
    csrf = browser_login(ada, admin)
    done = ada.post("/teams", data={"name": "Payments", "csrf_token": csrf})
    assert done.status_code == 303
    assert [t["name"] for t in api_as(admin).get("/api/v1/teams").json()] == ["Payments"]


def test_an_api_write_with_the_login_cookie_needs_the_csrf_header(browser, admin, api_as):
    ada = browser()
    csrf = browser_login(ada, admin)
    missing = assert_error(ada.post("/api/v1/teams", json={"name": "Payments"}), 403, code="csrf")
    assert "X-CSRF-Token" in missing["message"] and missing["field"] == "X-CSRF-Token"
    assert_error(
        ada.post("/api/v1/teams", json={"name": "Payments"}, headers={"X-CSRF-Token": "nope"}),
        403,
        code="csrf",
    )
    assert api_as(admin).get("/api/v1/teams").json() == []

    created = ada.post("/api/v1/teams", json={"name": "Payments"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    team_id = created.json()["id"]
    # Every method that changes something is covered, not only POST.
    assert_error(ada.patch(f"/api/v1/teams/{team_id}", json={"name": "Billing"}), 403, code="csrf")
    assert_error(ada.delete(f"/api/v1/teams/{team_id}"), 403, code="csrf")
    assert api_as(admin).get(f"/api/v1/teams/{team_id}").json()["name"] == "Payments"
    # Reading needs no token.
    assert ada.get(f"/api/v1/teams/{team_id}").status_code == 200


def test_bearer_token_requests_need_no_csrf_token(api_as, admin):
    created = api_as(admin).post("/api/v1/teams", json={"name": "Payments"})
    assert created.status_code == 201


# ---------------------------------------------------------------- personal API tokens


def test_a_new_token_is_shown_once_and_stored_only_as_a_sha256_digest(
    api_as, browser, responder, db
):
    rita = api_as(responder)
    created = rita.post("/api/v1/tokens", json={"name": "deploy script"})
    assert created.status_code == 201
    plaintext = created.json()["token"]
    assert plaintext.startswith("tsn_")

    listed = rita.get("/api/v1/tokens")
    assert [t["name"] for t in listed.json()] == ["deploy script", "tests"]
    assert all("token" not in t for t in listed.json())
    assert plaintext not in listed.text

    secret = plaintext.split("_", 2)[2]
    with db.begin() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "deploy script"))
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert not any(secret in value or plaintext in value for value in stored)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()

    script = browser(headers={"Authorization": f"Bearer {plaintext}"})
    assert script.get("/api/v1/me").json()["email"] == responder.email


def test_a_token_made_on_the_settings_page_is_shown_once(browser, responder):
    anna = browser()
    csrf = browser_login(anna, responder)
    made = anna.post("/settings/tokens", data={"name": "laptop", "csrf_token": csrf})
    assert made.status_code == 200
    plaintext = made.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert plaintext.startswith("tsn_")
    later = anna.get("/settings")
    assert "laptop" in later.text and plaintext not in later.text


def test_a_revoked_token_is_refused(api_as, browser, responder):
    rita = api_as(responder)
    created = rita.post("/api/v1/tokens", json={"name": "cron"}).json()
    cron = browser(headers={"Authorization": f"Bearer {created['token']}"})
    assert cron.get("/api/v1/me").status_code == 200
    revoked = rita.delete(f"/api/v1/tokens/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    error = assert_error(cron.get("/api/v1/me"), 401, code="unauthenticated")
    assert "revoked" in error["message"]
    assert cron.get("/api/v1/me").headers["www-authenticate"] == "Bearer"
    # Revoking twice is harmless; the other tokens keep working.
    assert rita.delete(f"/api/v1/tokens/{created['id']}").status_code == 200
    assert rita.get("/api/v1/me").status_code == 200


def test_only_your_own_tokens_can_be_revoked_unless_you_are_admin(api_as, admin, responder):
    ada, rita = api_as(admin), api_as(responder)
    adas = ada.post("/api/v1/tokens", json={"name": "ada's"}).json()
    assert_error(rita.delete(f"/api/v1/tokens/{adas['id']}"), 404)
    assert ada.get("/api/v1/tokens").json()[0]["revoked_at"] is None
    ritas = rita.post("/api/v1/tokens", json={"name": "rita's"}).json()
    assert ada.delete(f"/api/v1/tokens/{ritas['id']}").status_code == 200
    assert rita.get("/api/v1/tokens").json()[0]["revoked_at"] is not None
    assert_error(rita.delete("/api/v1/tokens/987654"), 404)


def test_the_token_of_a_deactivated_user_is_refused(api_as, admin, responder):
    rita = api_as(responder)
    assert rita.get("/api/v1/me").status_code == 200
    ada = api_as(admin)
    ada.patch(f"/api/v1/users/{responder.id}", json={"is_active": False})
    assert_error(rita.get("/api/v1/me"), 401, code="unauthenticated")
    assert_error(rita.post("/api/v1/incidents", json={"summary": "x", "severity": "SEV3"}), 401)

    # Coming back does not revive the old tokens (they may have leaked meanwhile).
    ada.patch(f"/api/v1/users/{responder.id}", json={"is_active": True})
    assert_error(rita.get("/api/v1/me"), 401, code="unauthenticated")
    assert api_as(responder).get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic cml0YUBleGFtcGxlLmNvbTpjb3JyZWN0LWhvcnNlLWJhdHRlcnk=",
        "Token {token}",
        "{token}",
        "Bearer garbage",
        "Bearer tsn_",
        "Bearer tsn__",
        "Bearer tsn_0123456789abcdef_",
        "Bearer tsn_0123456789abcdef_not-the-secret",
        "Bearer {lookup_with_wrong_secret}",
        "Bearer {token}x",
        "Bearer {token} {token}",
        "Bearer tss_{token}",
        "Bearer " + "tsn_" + "a" * 5000,
        b"Bearer tsn_0123456789abcdef_\xe9\xff",
        b"Bearer tsn_0123456\x0089abcdef_x",  # PostgreSQL refuses NUL in a query
    ],
    ids=lambda h: repr(h)[:40],
)
def test_a_malformed_authorization_header_gets_401_with_the_error_shape(
    browser, api_as, responder, header
):
    real = api_as(responder).post("/api/v1/tokens", json={"name": "real"}).json()["token"]
    if isinstance(header, str):
        lookup = real.split("_")[1]
        header = header.format(token=real, lookup_with_wrong_secret=f"tsn_{lookup}_wrong")
    caller = browser(raise_server_exceptions=False)
    response = caller.get("/api/v1/me", headers={"Authorization": header})
    assert_error(response, 401, code="unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    write = caller.post("/api/v1/teams", json={"name": "x"}, headers={"Authorization": header})
    assert_error(write, 401, code="unauthenticated")


def test_a_login_cookie_is_not_an_api_token_and_the_scheme_is_case_insensitive(
    browser, api_as, responder
):
    anna = browser()
    browser_login(anna, responder)
    cookie = anna.cookies["tocsin_session"]
    assert_error(browser().get("/api/v1/me", headers={"Authorization": f"Bearer {cookie}"}), 401)
    token = api_as(responder).post("/api/v1/tokens", json={"name": "t"}).json()["token"]
    caller = browser()
    assert caller.get("/api/v1/me", headers={"Authorization": f"bearer {token}"}).is_success
    # ...and a token is no login cookie.
    caller.cookies.set("tocsin_session", token)
    assert_error(caller.get("/api/v1/me"), 401)


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_only_admins_create_users(api_as, make_user, db, role):
    someone = api_as(make_user(role))
    before = len(users_in_db(db))
    refused = someone.post(
        "/api/v1/users", json={"email": "sneaky@example.com", "name": "Sneaky", "role": "admin"}
    )
    assert_error(refused, 403)
    assert len(users_in_db(db)) == before


def test_an_admin_creates_users_with_a_role(api_as, admin):
    created = api_as(admin).post(
        "/api/v1/users",
        json={
            "email": "Vera@Example.com",
            "name": "Vera",
            "role": "viewer",
            "time_zone": "Europe/Berlin",
            "password": "vera-password-1",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["email"], body["role"], body["time_zone"]) == (
        "vera@example.com",
        "viewer",
        "Europe/Berlin",
    )
    assert body["generated_password"] is None
    duplicate = api_as(admin).post(
        "/api/v1/users", json={"email": "vera@example.com", "name": "Vera again"}
    )
    assert_error(duplicate, 409, field="email")


@pytest.mark.parametrize(
    "change", [{"role": "admin"}, {"role": "viewer"}, {"is_active": False}, {"name": "Renamed"}]
)
def test_non_admins_cannot_change_other_people(api_as, responder, make_user, change):
    other = make_user(Role.RESPONDER, name="Otto")
    rita = api_as(responder)
    assert_error(rita.patch(f"/api/v1/users/{other.id}", json=change), 403)
    after = rita.get(f"/api/v1/users/{other.id}").json()
    assert (after["role"], after["is_active"], after["name"]) == ("responder", True, "Otto")


def test_an_admin_changes_roles_and_the_change_takes_effect_at_once(api_as, admin, responder):
    rita = api_as(responder)
    assert_error(rita.post("/api/v1/services", json={"name": "payments"}), 403)
    promoted = api_as(admin).patch(f"/api/v1/users/{responder.id}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert rita.post("/api/v1/services", json={"name": "payments"}).status_code == 201
    api_as(admin).patch(f"/api/v1/users/{responder.id}", json={"role": "viewer"})
    assert_error(rita.post("/api/v1/incidents", json={"summary": "x", "severity": "SEV3"}), 403)


def test_an_admin_deactivates_and_reactivates_someone(api_as, admin, responder, browser):
    ada = api_as(admin)
    off = ada.patch(f"/api/v1/users/{responder.id}", json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert responder.id not in [u["id"] for u in ada.get("/api/v1/users").json()]
    listed = ada.get("/api/v1/users", params={"include_inactive": True}).json()
    assert responder.id in [u["id"] for u in listed]
    assert ada.patch(f"/api/v1/users/{responder.id}", json={"is_active": True}).status_code == 200
    assert submit_login(browser(), responder.email, PASSWORD).status_code == 303


@pytest.mark.parametrize(
    "change", [{"role": "responder"}, {"role": "viewer"}, {"is_active": False}]
)
def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(api_as, admin, change):
    ada = api_as(admin)
    for path in ("/api/v1/me", f"/api/v1/users/{admin.id}"):
        assert_error(ada.patch(path, json={**change, "name": "Still Ada"}), 409)
    me = ada.get("/api/v1/me").json()
    assert (me["role"], me["is_active"], me["name"]) == ("admin", True, "Ada Admin")


def test_an_inactive_admin_does_not_count_as_a_second_admin(api_as, admin, make_user):
    other = make_user(Role.ADMIN, name="Other Admin")
    ada = api_as(admin)
    assert ada.patch(f"/api/v1/users/{other.id}", json={"is_active": False}).status_code == 200
    assert_error(ada.patch("/api/v1/me", json={"role": "responder"}), 409)
    ada.patch(f"/api/v1/users/{other.id}", json={"is_active": True})
    demoted = ada.patch("/api/v1/me", json={"role": "responder"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "responder"
    # Now Other Admin is the last one and cannot step down either.
    assert_error(api_as(other).patch("/api/v1/me", json={"is_active": False}), 409)


def test_you_change_your_own_name_time_zone_and_password(api_as, responder, browser):
    rita = api_as(responder)
    changed = rita.patch("/api/v1/me", json={"name": "Rita R.", "time_zone": "Asia/Tokyo"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["time_zone"]) == ("Rita R.", "Asia/Tokyo")
    assert_error(rita.patch("/api/v1/me", json={"time_zone": "Mars/Olympus"}), 422, "invalid")
    assert_error(rita.patch("/api/v1/me", json={"password": "short"}), 422, field="password")

    # The current password is needed, and a wrong one changes nothing of the request.
    for current in ({}, {"current_password": "not-my-password"}):
        refused = rita.patch("/api/v1/me", json={"password": NEW_PASSWORD, "name": "X", **current})
        assert_error(refused, 422, field="current_password")
    assert rita.get("/api/v1/me").json()["name"] == "Rita R."
    assert submit_login(browser(), responder.email, PASSWORD).status_code == 303

    changed = rita.patch(
        "/api/v1/me", json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )
    assert changed.status_code == 200
    assert submit_login(browser(), responder.email, PASSWORD).status_code == 401
    assert submit_login(browser(), responder.email, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_you_cannot_change_your_own_role_and_nothing_of_the_request_is_applied(
    api_as, make_user, role
):
    me = make_user(role, name="Before")
    client = api_as(me)
    for change in ({"role": "admin"}, {"is_active": False}):
        assert_error(client.patch("/api/v1/me", json={**change, "name": "After"}), 403)
        assert_error(client.patch(f"/api/v1/users/{me.id}", json={**change, "name": "After"}), 403)
    after = client.get("/api/v1/me").json()
    assert (after["role"], after["name"], after["is_active"]) == (role.value, "Before", True)


def test_the_profile_form_changes_only_your_own_profile(browser, responder, api_as):
    anna = browser()
    csrf = browser_login(anna, responder)
    saved = anna.post(
        "/settings/profile",
        data={
            "name": "Rita Form",
            "time_zone": "Europe/Paris",
            "role": "admin",
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 303
    me = api_as(responder).get("/api/v1/me").json()
    assert (me["name"], me["time_zone"], me["role"]) == ("Rita Form", "Europe/Paris", "responder")


# ---------------------------------------------------------------- teams


def team_names(api) -> list[str]:
    return [t["name"] for t in api.get("/api/v1/teams").json()]


def test_admins_create_rename_and_delete_teams(api_as, admin, responder):
    ada = api_as(admin)
    created = ada.post(
        "/api/v1/teams",
        json={"name": "Payments", "description": "Checkout", "member_ids": [responder.id]},
    )
    assert created.status_code == 201
    team = created.json()
    assert [m["name"] for m in team["members"]] == ["Rita Responder"]
    other = ada.post("/api/v1/teams", json={"name": "Platform"}).json()

    assert_error(ada.post("/api/v1/teams", json={"name": "payments"}), 409, field="name")
    assert_error(
        ada.patch(f"/api/v1/teams/{other['id']}", json={"name": "PAYMENTS"}), 409, field="name"
    )
    renamed = ada.patch(f"/api/v1/teams/{team['id']}", json={"name": "Billing"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Billing"
    assert ada.patch(f"/api/v1/teams/{team['id']}", json={"name": "billing"}).status_code == 200
    assert team_names(ada) == ["billing", "Platform"]

    assert ada.delete(f"/api/v1/teams/{team['id']}").status_code == 204
    assert_error(ada.get(f"/api/v1/teams/{team['id']}"), 404)
    assert_error(ada.delete(f"/api/v1/teams/{team['id']}"), 404)
    assert team_names(ada) == ["Platform"]
    # The people stay.
    assert ada.get(f"/api/v1/users/{responder.id}").json()["is_active"] is True


def test_admins_add_and_remove_team_members(api_as, admin, responder, make_user):
    ada = api_as(admin)
    otto = make_user(Role.RESPONDER, name="Otto")
    team = ada.post("/api/v1/teams", json={"name": "Payments"}).json()
    members = f"/api/v1/teams/{team['id']}/members"

    added = ada.post(members, json={"user_id": responder.id})
    assert added.status_code == 200
    assert [m["id"] for m in added.json()["members"]] == [responder.id]
    again = ada.post(members, json={"user_id": responder.id})
    assert [m["id"] for m in again.json()["members"]] == [responder.id]
    ada.post(members, json={"user_id": otto.id})

    removed = ada.delete(f"{members}/{responder.id}")
    assert removed.status_code == 200
    assert [m["name"] for m in removed.json()["members"]] == ["Otto"]
    assert_error(ada.delete(f"{members}/{responder.id}"), 404, field="user_id")
    assert_error(ada.post(members, json={"user_id": 987654}), 422, field="user_id")
    ada.patch(f"/api/v1/users/{otto.id}", json={"is_active": False})
    assert_error(ada.post(members, json={"user_id": otto.id}), 422, field="user_id")
    assert_error(ada.post("/api/v1/teams/987654/members", json={"user_id": otto.id}), 404)


def test_deleting_a_team_leaves_its_services_without_an_owner(api_as, admin):
    ada = api_as(admin)
    team = ada.post("/api/v1/teams", json={"name": "Payments"}).json()
    service = ada.post("/api/v1/services", json={"name": "checkout", "team_id": team["id"]}).json()
    assert service["team"]["name"] == "Payments"
    assert ada.delete(f"/api/v1/teams/{team['id']}").status_code == 204
    assert ada.get(f"/api/v1/services/{service['id']}").json()["team"] is None


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_non_admins_cannot_change_teams(api_as, admin, make_user, db, role):
    ada = api_as(admin)
    team = ada.post("/api/v1/teams", json={"name": "Payments"}).json()
    member = make_user(Role.RESPONDER)
    ada.post(f"/api/v1/teams/{team['id']}/members", json={"user_id": member.id})
    someone = make_user(role)
    client = api_as(someone)
    tid = team["id"]
    attempts = [
        client.post("/api/v1/teams", json={"name": "Mine"}),
        client.patch(f"/api/v1/teams/{tid}", json={"name": "Mine"}),
        client.post(f"/api/v1/teams/{tid}/members", json={"user_id": someone.id}),
        client.delete(f"/api/v1/teams/{tid}/members/{member.id}"),
        client.delete(f"/api/v1/teams/{tid}"),
    ]
    for attempt in attempts:
        assert_error(attempt, 403)
    # Reading is fine; nothing changed.
    teams = client.get("/api/v1/teams").json()
    assert [(t["name"], [m["id"] for m in t["members"]]) for t in teams] == [
        ("Payments", [member.id])
    ]
    with db.begin() as session:
        assert session.scalars(select(Team)).all()[0].name == "Payments"


# ---------------------------------------------------------------- the audit log


def audit(api) -> list[dict]:
    response = api.get("/api/v1/audit", params={"limit": 500})
    assert response.status_code == 200, response.text
    return response.json()


def test_admin_changes_are_written_to_the_audit_log(api_as, admin, responder):
    ada = api_as(admin)
    user = ada.post("/api/v1/users", json={"email": "new@example.com", "name": "New"}).json()
    ada.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"})
    ada.patch(f"/api/v1/users/{user['id']}", json={"is_active": False})
    token = ada.post("/api/v1/tokens", json={"name": "ci"}).json()
    ada.delete(f"/api/v1/tokens/{token['id']}")
    team = ada.post("/api/v1/teams", json={"name": "Payments"}).json()
    ada.patch(f"/api/v1/teams/{team['id']}", json={"name": "Billing"})
    ada.post(f"/api/v1/teams/{team['id']}/members", json={"user_id": responder.id})
    ada.delete(f"/api/v1/teams/{team['id']}/members/{responder.id}")
    service = ada.post("/api/v1/services", json={"name": "checkout"}).json()
    ada.patch(f"/api/v1/services/{service['id']}", json={"description": "Takes money"})
    ada.delete(f"/api/v1/services/{service['id']}")
    product = ada.post("/api/v1/products", json={"name": "Shop"}).json()
    ada.patch(f"/api/v1/products/{product['id']}", json={"name": "Web shop"})
    ada.delete(f"/api/v1/products/{product['id']}")
    ada.delete(f"/api/v1/teams/{team['id']}")

    entries = list(reversed(audit(ada)))  # oldest first, to read along with the steps
    ours = [e for e in entries if e["actor"] and e["actor"]["id"] == admin.id]
    assert [e["action"] for e in ours] == [
        "token.created",  # the api_as token this test uses
        "user.created",
        "user.updated",
        "user.updated",
        "token.created",
        "token.revoked",
        "team.created",
        "team.updated",
        "team.member_added",
        "team.member_removed",
        "service.created",
        "service.updated",
        "service.deleted",
        "product.created",
        "product.updated",
        "product.deleted",
        "team.deleted",
    ]
    assert all(e["actor"]["name"] == "Ada Admin" and e["summary"] for e in ours)
    summaries = [e["summary"] for e in ours]
    assert "Created new@example.com as responder" in summaries
    role_change = ours[2]
    assert "new@example.com" in role_change["summary"] and "role" in role_change["summary"]
    assert role_change["details"] == {"role": ["responder", "viewer"]}
    assert role_change["target_type"] == "user" and role_change["target_id"] == str(user["id"])
    assert ours[3]["details"] == {"is_active": [True, False]}
    assert any("ci" in s and "revoked" in s for s in summaries)
    rename = ours[7]
    assert rename["summary"] == "Team Payments renamed to Billing"
    assert rename["details"] == {"name": ["Payments", "Billing"]}
    assert f"{responder.email} joined Billing" in summaries
    assert f"{responder.email} left Billing" in summaries
    assert any("checkout" in s and "removed" in s for s in summaries)
    assert any("Web shop" in s for s in summaries)


def test_a_refused_change_leaves_no_audit_entry(api_as, admin, responder):
    ada, rita = api_as(admin), api_as(responder)
    ada.post("/api/v1/teams", json={"name": "Payments"})
    before = audit(ada)
    ada.post("/api/v1/teams", json={"name": "Payments"})  # 409
    rita.post("/api/v1/services", json={"name": "x"})  # 403
    ada.patch("/api/v1/me", json={"role": "viewer"})  # 409, the last admin
    ada.post("/api/v1/users", json={"email": "not-an-email", "name": "x"})  # 422
    assert audit(ada) == before


def test_the_audit_log_pages_newest_first(api_as, admin):
    ada = api_as(admin)
    for n in range(5):
        ada.post("/api/v1/products", json={"name": f"Product {n}"})
    first = ada.get("/api/v1/audit", params={"limit": 2}).json()
    assert [e["summary"] for e in first] == ["Product Product 4 added", "Product Product 3 added"]
    rest = ada.get("/api/v1/audit", params={"limit": 2, "before_id": first[-1]["id"]}).json()
    assert [e["summary"] for e in rest] == ["Product Product 2 added", "Product Product 1 added"]


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_only_admins_read_the_audit_log(api_as, browser, make_user, role):
    someone = make_user(role)
    assert_error(api_as(someone).get("/api/v1/audit"), 403)
    anna = browser()
    browser_login(anna, someone)
    page = anna.get("/admin/audit", headers={"accept": "text/html"})
    assert page.status_code == 403


def test_the_audit_page_shows_admin_changes(api_as, browser, admin):
    api_as(admin).post("/api/v1/services", json={"name": "checkout"})
    ada = browser()
    browser_login(ada, admin)
    page = ada.get("/admin/audit")
    assert page.status_code == 200
    assert "Service checkout added" in page.text
    assert "Ada Admin" in page.text


def test_the_admin_pages_are_for_admins_only(browser, responder, api_as, db):
    anna = browser()
    csrf = browser_login(anna, responder)
    assert anna.get("/admin/users", headers={"accept": "text/html"}).status_code == 403
    before = len(users_in_db(db))
    anna.post(
        "/admin/users",
        data={"email": "mole@example.com", "name": "Mole", "role": "admin", "csrf_token": csrf},
    )
    anna.post(f"/admin/users/{responder.id}", data={"role": "admin", "csrf_token": csrf})
    assert len(users_in_db(db)) == before
    assert api_as(responder).get("/api/v1/me").json()["role"] == "responder"


def test_an_admin_changes_roles_and_access_through_the_users_page(
    browser, admin, responder, api_as
):
    ada = browser()
    csrf = browser_login(ada, admin)
    # The form sends the checkbox only when it is ticked.
    saved = ada.post(f"/admin/users/{responder.id}", data={"role": "viewer", "csrf_token": csrf})
    assert saved.status_code == 303
    after = api_as(admin).get(f"/api/v1/users/{responder.id}").json()
    assert (after["role"], after["is_active"]) == ("viewer", False)
    # The last admin cannot lock themselves out through the page either.
    refused = ada.post(f"/admin/users/{admin.id}", data={"role": "admin", "csrf_token": csrf})
    assert refused.status_code == 303
    assert "at least one active admin" in unquote(refused.cookies.get("tocsin_flash", ""))
    assert api_as(admin).get("/api/v1/me").json()["is_active"] is True
