"""Users, tokens, sessions and the login limit (services/users/) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.services.db import Database
from ivr.services.users import LoginLimit, LoginResult, Role, User, UserError, UserStore

PASSWORD = "a long enough one"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(db: Database, clock: Clock) -> UserStore:
    return UserStore(db, limit=LoginLimit(per_user=3, per_remote=5,
                                          window=dt.timedelta(minutes=15)),
                     session_ttl=dt.timedelta(hours=1), clock=clock)


async def test_users_are_added_listed_and_never_store_the_password(users: UserStore,
                                                                  db: Database) -> None:
    await users.add("ana", "agent", PASSWORD, agent_id="a1")
    await users.add("sam", "supervisor", PASSWORD, queues=("general", "vip"))
    assert await users.all() == [User("ana", Role.AGENT, "a1"),
                                 User("sam", Role.SUPERVISOR, "", ("general", "vip"))]
    stored = await db.fetch_value("SELECT password_hash FROM users WHERE name = 'ana'")
    assert stored.startswith("scrypt$") and PASSWORD not in stored


@pytest.mark.parametrize(("name", "role", "extra", "message"), [
    ("Ana", "agent", {"agent_id": "a1"}, "user name"),
    ("ana", "boss", {}, "role 'boss'"),
    ("ana", "agent", {}, "needs its agent id"),
    ("ana", "admin", {"agent_id": "a1"}, "only an agent user"),
    ("ana", "reporting", {"queues": ("general",)}, "only a supervisor"),
])
async def test_bad_users_are_refused_saying_why(users: UserStore, name: str, role: str,
                                               extra: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        await users.add(name, role, PASSWORD, **extra)  # type: ignore[arg-type]


async def test_short_passwords_and_duplicates_are_refused(users: UserStore) -> None:
    with pytest.raises(UserError, match="at least 10"):
        await users.add("ana", "admin", "short")
    await users.add("ana", "admin", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        await users.add("ana", "admin", PASSWORD)


async def test_a_login_makes_a_session_that_expires(users: UserStore, clock: Clock) -> None:
    await users.add("ana", "admin", PASSWORD)
    result, session = await users.login("ana", PASSWORD, "127.0.0.1")
    assert result is LoginResult.OK and session is not None
    found = await users.session(session.id)
    assert found is not None and found.user.name == "ana"
    assert found.csrf_token == session.csrf_token
    clock.now += dt.timedelta(minutes=59)
    assert await users.session(session.id) is not None
    clock.now += dt.timedelta(minutes=2)
    assert await users.session(session.id) is None
    assert await users.session("made-up") is None


async def test_a_session_ends_on_logout_and_on_a_new_password(users: UserStore) -> None:
    await users.add("ana", "admin", PASSWORD)
    _, first = await users.login("ana", PASSWORD, "127.0.0.1")
    _, second = await users.login("ana", PASSWORD, "127.0.0.1")
    assert first is not None and second is not None
    await users.end_session(first.id)
    assert await users.session(first.id) is None
    assert await users.session(second.id) is not None
    await users.set_password("ana", "another long password")
    assert await users.session(second.id) is None
    assert (await users.login("ana", PASSWORD, "127.0.0.1"))[0] is LoginResult.INVALID
    assert (await users.login("ana", "another long password", "127.0.0.1"))[0] is \
        LoginResult.OK


async def test_failed_logins_are_limited_per_user_and_per_address(users: UserStore,
                                                                  clock: Clock) -> None:
    await users.add("ana", "admin", PASSWORD)
    await users.add("bob", "admin", PASSWORD)
    for _ in range(3):
        assert (await users.login("ana", "wrong guess!", "10.0.0.1"))[0] is LoginResult.INVALID
    assert (await users.login("ana", PASSWORD, "10.0.0.2"))[0] is LoginResult.RATE_LIMITED
    assert (await users.login("bob", PASSWORD, "10.0.0.1"))[0] is LoginResult.OK
    for name in ("carl", "dora"):  # unknown users count against the address
        assert (await users.login(name, "wrong guess!", "10.0.0.1"))[0] is LoginResult.INVALID
    assert (await users.login("bob", PASSWORD, "10.0.0.1"))[0] is LoginResult.RATE_LIMITED
    assert (await users.login("bob", PASSWORD, "10.0.0.3"))[0] is LoginResult.OK
    clock.now += dt.timedelta(minutes=16)
    assert (await users.login("ana", PASSWORD, "10.0.0.1"))[0] is LoginResult.OK


async def test_a_disabled_user_cannot_log_in_or_use_its_session_or_token(
        users: UserStore) -> None:
    await users.add("ana", "reporting", PASSWORD)
    _, session = await users.login("ana", PASSWORD, "127.0.0.1")
    token = await users.new_token("ana", "wallboard")
    assert session is not None and await users.user_for_token(token) == User("ana",
                                                                             Role.REPORTING)
    assert await users.set_disabled("ana", True)
    assert await users.session(session.id) is None
    assert await users.user_for_token(token) is None
    assert (await users.login("ana", PASSWORD, "127.0.0.1"))[0] is LoginResult.INVALID
    assert not await users.set_disabled("nobody", True)


async def test_tokens_are_stored_hashed_used_and_revoked(users: UserStore, db: Database,
                                                        clock: Clock) -> None:
    await users.add("ana", "admin", PASSWORD)
    token = await users.new_token("ana", "ci")
    assert token.startswith("ivr_") and len(token) > 40
    assert token not in str(await db.fetch_all("SELECT * FROM api_tokens"))
    assert await users.user_for_token(token) is not None
    assert (await users.tokens("ana"))[0]["last_used_at"] == clock.now
    assert await users.user_for_token(token + "x") is None
    assert await users.user_for_token("not even the form") is None
    assert await users.revoke_tokens("ana") == 1
    assert await users.user_for_token(token) is None
    with pytest.raises(UserError, match="no user"):
        await users.new_token("nobody")
