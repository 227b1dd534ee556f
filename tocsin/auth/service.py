"""Operations on people, teams, tokens and logins. Each write owns its transaction."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth import secrets, throttle
from tocsin.auth.models import (
    ApiToken,
    LoginSession,
    LoginThrottle,
    Role,
    Team,
    TeamMember,
    User,
)
from tocsin.auth.permissions import require_admin
from tocsin.auth.schemas import TeamCreate, TeamUpdate, UserCreate, UserUpdate
from tocsin.db import now, row_named
from tocsin.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)

MAX_EMAIL = 254
TOKEN_PREFIX = "tsn"
SESSION_PREFIX = "tss"
# last_used_at is refreshed at most this often, so reads do not all become writes.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)

# ---------------------------------------------------------------- users


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.", field="user_id")
    return user


def users_by_ids(session: Session, ids: Iterable[int], field: str) -> list[User]:
    """The users with these ids, all active, or an InvalidInput naming the first missing."""
    wanted = list(dict.fromkeys(ids))
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
    for user_id in wanted:
        user = found.get(user_id)
        if user is None or not user.is_active:
            raise InvalidInput(f"No active user with id {user_id}.", field=field)
    return [found[i] for i in wanted]


def user_by_email(session: Session, email: str) -> User | None:
    email = email.strip().lower()
    if not email or len(email) > MAX_EMAIL or "\x00" in email:
        return None  # no such address can be stored; PostgreSQL would refuse the NUL
    return session.scalar(select(User).where(User.email == email))


def list_users(session: Session, *, include_inactive: bool = False) -> list[User]:
    query = select(User).order_by(func.lower(User.name), User.id)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return list(session.scalars(query))


def _insert_user(session: Session, data: UserCreate, password: str) -> User:
    if user_by_email(session, data.email) is not None:
        raise Conflict(f"A user with email {data.email} already exists.", field="email")
    user = User(
        email=data.email,
        name=data.name,
        time_zone=data.time_zone,
        role=data.role.value,
        password_hash=secrets.hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, actor: User | None, data: UserCreate) -> tuple[User, str | None]:
    """Creates a user; returns the generated password when none was given.

    `actor` is None only for the operator at the command line.
    """
    if actor is not None:
        require_admin(actor, "create users")
    generated = None if data.password else secrets.generate_password()
    user = _insert_user(session, data, data.password or generated or "")
    audit.record(
        session,
        actor.id if actor else None,
        "user.created",
        "user",
        user.id,
        f"Created {user.email} as {user.role}",
        {"role": user.role},
    )
    session.commit()
    return user, generated


def bootstrap_admin(session: Session, email: str, password: str | None) -> tuple[User, str] | None:
    """On first start, create the first admin. Returns it and its password, or None."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    # A chosen password obeys the same rule as any other (ValidationError otherwise).
    data = UserCreate(email=email, name="Administrator", role=Role.ADMIN, password=password)
    chosen = data.password or secrets.generate_password()
    user = _insert_user(session, data, chosen)
    audit.record(session, None, "user.created", "user", user.id, f"First admin {user.email}")
    session.commit()
    return user, chosen


def update_user(session: Session, actor: User, user_id: int, data: UserUpdate) -> User:
    user = get_user(session, user_id)
    is_self = actor.id == user.id
    admin_fields = {"role", "is_active"} & data.model_fields_set
    if not actor.is_admin and (not is_self or admin_fields):
        raise Forbidden("Only admins can change other users, roles or deactivate accounts.")
    if (
        is_self
        and data.password is not None
        and not secrets.verify_password(user.password_hash, data.current_password or "")
    ):
        # A login left open or a leaked API token must not be enough to take the account.
        raise InvalidInput(
            "To change your password, enter your current one; it did not match.",
            field="current_password",
        )
    if (
        is_self
        and admin_fields
        and (data.role not in (None, Role.ADMIN) or data.is_active is False)
    ):
        _keep_one_admin(session, user)
    changes: dict[str, list[object]] = {}
    for field in ("name", "time_zone", "is_active"):
        value = getattr(data, field)
        if value is not None and value != getattr(user, field):
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if data.role is not None and data.role.value != user.role:
        if user.role == Role.ADMIN.value:
            _keep_one_admin(session, user)
        changes["role"] = [user.role, data.role.value]
        user.role = data.role.value
    if data.is_active is False:
        if user.is_admin:
            _keep_one_admin(session, user)
        _end_all_logins(session, user)
        # A person who comes back gets new tokens: the old ones may have leaked meanwhile.
        _revoke_all_tokens(session, user)
    if data.password is not None:
        user.password_hash = secrets.hash_password(data.password)
        changes["password"] = ["***", "***"]
        _end_all_logins(session, user)
    if changes and (not is_self or admin_fields):
        audit.record(
            session,
            actor.id,
            "user.updated",
            "user",
            user.id,
            f"Changed {user.email}: {', '.join(sorted(changes))}",
            {k: v for k, v in changes.items() if k != "password"},
        )
    session.commit()
    return user


def _keep_one_admin(session: Session, leaving: User) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != leaving.id)
    )
    if not others:
        raise Conflict("Tocsin needs at least one active admin; make someone else admin first.")


def _revoke_all_tokens(session: Session, user: User) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )


def _end_all_logins(session: Session, user: User) -> None:
    for login in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        session.delete(login)


# ---------------------------------------------------------------- logins


def authenticate_password(session: Session, email: str, password: str, place: str = "") -> User:
    """The user whose password this is; `place` (the client's address) paces guessers."""
    at = now()
    counters = throttle.counters(email, place)
    rows = _throttle_rows(session, [c.key for c in counters])
    waits = [
        row.blocked_until for row in rows.values() if row.blocked_until and row.blocked_until > at
    ]
    if waits:
        seconds = math.ceil((max(waits) - at).total_seconds())
        raise TooManyAttempts(
            f"Too many wrong passwords. Try again in {_minutes_words(seconds)}.",
            retry_after=seconds,
        )
    user = user_by_email(session, email)
    ok = secrets.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        for counter in counters:
            _count_failure(rows[counter.key], counter, at)
        session.commit()
        raise Unauthenticated("Wrong email or password.")
    for counter in counters:
        if counter.clears_on_success:
            session.delete(rows[counter.key])
    if user.password_hash and secrets.needs_rehash(user.password_hash):
        user.password_hash = secrets.hash_password(password)
    return user


def _throttle_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    """The counters, created when missing and locked, so concurrent attempts count each."""
    dialect = session.bind.dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(LoginThrottle)
    session.execute(
        insert.values(
            [{"key": key, "failures": 0, "first_failed_at": now()} for key in keys]
        ).on_conflict_do_nothing(index_elements=[LoginThrottle.key])
    )
    query = select(LoginThrottle).where(LoginThrottle.key.in_(keys)).order_by(LoginThrottle.key)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {
        row.key: row for row in session.scalars(query.execution_options(populate_existing=True))
    }


def _count_failure(row: LoginThrottle, counter: throttle.Counter, at: datetime) -> None:
    if row.failures == 0 or throttle.counts_again(row.first_failed_at, at):
        row.failures, row.first_failed_at = 0, at
    row.failures += 1
    wait = throttle.wait_after(row.failures, counter.free_failures)
    row.blocked_until = at + wait if wait else None


def _minutes_words(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def forget_old_login_failures(session: Session, at: datetime) -> int:
    """Counters past their window and their wait: housekeeping."""
    gone = session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.first_failed_at < at - throttle.WINDOW,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < at),
        )
    )
    return gone.rowcount or 0


def start_login(session: Session, user: User, hours: int) -> tuple[str, LoginSession]:
    """Opens a browser session; returns the cookie value (shown nowhere else) and the row."""
    cookie, lookup, secret_digest = secrets.new_keyed_secret(SESSION_PREFIX)
    login = LoginSession(
        user_id=user.id,
        lookup=lookup,
        secret_hash=secret_digest,
        csrf_token=secrets.new_keyed_secret("csrf")[2],
        expires_at=now() + timedelta(hours=hours),
    )
    session.add(login)
    session.commit()
    return cookie, login


def login_from_cookie(session: Session, cookie: str) -> LoginSession | None:
    parts = secrets.split_keyed_secret(cookie, SESSION_PREFIX)
    if parts is None:
        return None
    login = session.scalar(select(LoginSession).where(LoginSession.lookup == parts[0]))
    if login is None or not secrets.same_secret(parts[1], login.secret_hash):
        return None
    if login.expires_at <= now() or not login.user.is_active:
        return None
    return login


def end_login(session: Session, cookie: str) -> None:
    login = login_from_cookie(session, cookie)
    if login is not None:
        session.delete(login)
        session.commit()


# ---------------------------------------------------------------- API tokens


def create_token(session: Session, actor: User, name: str) -> tuple[ApiToken, str]:
    """A personal token for `actor`. The plaintext is returned once and never stored."""
    if "\x00" in name:  # the form passes its text straight here; PostgreSQL refuses NUL
        raise InvalidInput("A token's name must not contain NUL characters.", field="name")
    plaintext, lookup, secret_digest = secrets.new_keyed_secret(TOKEN_PREFIX)
    token = ApiToken(user_id=actor.id, name=name, lookup=lookup, secret_hash=secret_digest)
    session.add(token)
    session.flush()
    audit.record(
        session, actor.id, "token.created", "api_token", token.id, f"Token '{name}' created"
    )
    session.commit()
    return token, plaintext


def list_tokens(session: Session, actor: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not actor.is_admin):
        raise NotFound(f"No token with id {token_id}.", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = now()
        audit.record(
            session,
            actor.id,
            "token.revoked",
            "api_token",
            token.id,
            f"Token '{token.name}' of {token.user.email} revoked",
        )
        session.commit()
    return token


def user_from_token(session: Session, plaintext: str) -> User | None:
    parts = secrets.split_keyed_secret(plaintext, TOKEN_PREFIX)
    if parts is None:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.lookup == parts[0]))
    if token is None or not secrets.same_secret(parts[1], token.secret_hash):
        return None
    if token.revoked_at is not None or not token.user.is_active:
        return None
    moment = now()
    if token.last_used_at is None or moment - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = moment
    return token.user


# ---------------------------------------------------------------- teams


def get_team(session: Session, team_id: int, field: str = "team_id") -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"No team with id {team_id}.", field=field)
    return team


def list_teams(session: Session) -> list[Team]:
    # lower(): the same alphabetical order on SQLite (binary) and PostgreSQL (collation).
    return list(session.scalars(select(Team).order_by(func.lower(Team.name), Team.id)))


def _unique_team_name(session: Session, name: str, team_id: int | None = None) -> None:
    clash = row_named(session, Team, name)
    if clash is not None and clash.id != team_id:
        raise Conflict(f"A team named {name!r} already exists.", field="name")


def create_team(session: Session, actor: User, data: TeamCreate) -> Team:
    require_admin(actor, "create teams")
    _unique_team_name(session, data.name)
    team = Team(name=data.name, description=data.description)
    team.members = users_by_ids(session, data.member_ids, "member_ids")
    session.add(team)
    session.flush()
    audit.record(session, actor.id, "team.created", "team", team.id, f"Team {team.name} created")
    session.commit()
    return team


def update_team(session: Session, actor: User, team_id: int, data: TeamUpdate) -> Team:
    require_admin(actor, "change teams")
    team = get_team(session, team_id)
    before = team.name
    changes: dict[str, list[object]] = {}
    if data.name is not None and data.name != team.name:
        _unique_team_name(session, data.name, team.id)
        changes["name"] = [team.name, data.name]
        team.name = data.name
    if data.description is not None and data.description != team.description:
        changes["description"] = [team.description, data.description]
        team.description = data.description
    if changes:
        # The old name too: "Team Billing changed" alone would not say which team it was.
        renamed = f"renamed to {team.name}" if "name" in changes else "changed"
        summary = f"Team {before} {renamed}"
        audit.record(session, actor.id, "team.updated", "team", team.id, summary, changes)
    session.commit()
    return team


def delete_team(session: Session, actor: User, team_id: int) -> None:
    require_admin(actor, "delete teams")
    team = get_team(session, team_id)
    audit.record(session, actor.id, "team.deleted", "team", team.id, f"Team {team.name} deleted")
    session.delete(team)
    session.commit()


def add_team_member(session: Session, actor: User, team_id: int, user_id: int) -> Team:
    require_admin(actor, "change team members")
    team = get_team(session, team_id)
    user = users_by_ids(session, [user_id], "user_id")[0]
    if user not in team.members:
        team.members.append(user)
        audit.record(
            session,
            actor.id,
            "team.member_added",
            "team",
            team.id,
            f"{user.email} joined {team.name}",
        )
    session.commit()
    return team


def remove_team_member(session: Session, actor: User, team_id: int, user_id: int) -> Team:
    require_admin(actor, "change team members")
    team = get_team(session, team_id)
    membership = session.get(TeamMember, (team.id, user_id))
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of {team.name}.", field="user_id")
    leaving = get_user(session, user_id)
    session.delete(membership)
    session.flush()
    session.expire(team, ["members"])
    audit.record(
        session,
        actor.id,
        "team.member_removed",
        "team",
        team.id,
        f"{leaving.email} left {team.name}",
    )
    session.commit()
    return team


# ---------------------------------------------------------------- audit log


def audit_log(session: Session, actor: User, *, limit: int = 100, before_id: int | None = None):
    require_admin(actor, "read the audit log")
    return audit.entries(session, limit=limit, before_id=before_id)
