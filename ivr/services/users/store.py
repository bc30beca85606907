"""Users, API tokens, browser sessions and login attempts, on the project's Database.

Secrets are never stored: a password as its scrypt hash (the PIN hashing, services/accounts/
pins.py), a token or a session id (256 random bits, so a fast hash is enough) as its SHA-256.
A token is shown once, when it is made.

Logins are rate-limited in the database, so a restart does not reset the count: 5 failures for
one user name within 15 minutes, or 20 from one address, and further attempts are refused
without checking the password. An attempt is written as failed before the password is checked
and corrected when it is right, so parallel guesses cannot slip past the limit together. An
unknown user costs the same time as a wrong password, so the answer's timing does not tell
which names exist.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..accounts.pins import burn_time, check_pin_async, hash_pin_async
from ..db import Database, Row, as_datetime
from .model import Role, User, UserError, check_password, check_user

__all__ = ["LoginLimit", "LoginResult", "Session", "UserStore"]

Clock = Callable[[], dt.datetime]
TOKEN_PREFIX = "ivr_"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginLimit:
    per_user: int = 5
    per_remote: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


class LoginResult(enum.StrEnum):
    OK = "ok"
    INVALID = "invalid"
    """Unknown user, wrong password or a disabled user: the caller is not told which."""
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    """The cookie's value; only its hash is stored."""
    csrf_token: str
    user: User
    expires_at: dt.datetime


def _user(row: Row) -> User:
    queues = tuple(q for q in str(row["queues"]).split(",") if q)
    return User(name=row["name"], role=Role(row["role"]), agent_id=row["agent_id"],
                queues=queues, disabled=bool(row["disabled"]))


class UserStore:
    def __init__(self, db: Database, *, limit: LoginLimit | None = None,
                 session_ttl: dt.timedelta = dt.timedelta(hours=12),
                 clock: Clock = utcnow) -> None:
        self.db = db
        self.limit = limit or LoginLimit()
        self.session_ttl = session_ttl
        self.clock = clock

    # users ------------------------------------------------------------------------------------

    async def add(self, name: str, role: str, password: str, *, agent_id: str = "",
                  queues: tuple[str, ...] = ()) -> User:
        parsed = check_user(name, role, agent_id, queues)
        check_password(password)
        if await self.get(name) is not None:
            raise UserError(f"user {name!r} exists already (ivr user passwd to change it)")
        hashed = await hash_pin_async(password)
        now = self.clock()
        await self.db.execute(
            "INSERT INTO users (name, role, password_hash, agent_id, queues, disabled,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?)",
            name, parsed.value, hashed, agent_id, ",".join(queues), now, now)
        return User(name, parsed, agent_id, queues)

    async def get(self, name: str) -> User | None:
        row = await self.db.fetch_one("SELECT * FROM users WHERE name = ?", name)
        return _user(row) if row else None

    async def all(self) -> list[User]:
        return [_user(r) for r in await self.db.fetch_all("SELECT * FROM users ORDER BY name")]

    async def set_password(self, name: str, password: str) -> bool:
        """A new password also ends the user's browser sessions (its tokens stay)."""
        check_password(password)
        hashed = await hash_pin_async(password)
        async with self.db.transaction():
            done = await self.db.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
                hashed, self.clock(), name)
            await self.db.execute("DELETE FROM web_sessions WHERE user_name = ?", name)
        return done > 0

    async def set_disabled(self, name: str, disabled: bool) -> bool:
        """A disabled user cannot log in, and its sessions and tokens stop working at once."""
        return await self.db.execute(
            "UPDATE users SET disabled = ?, updated_at = ? WHERE name = ?",
            disabled, self.clock(), name) > 0

    # logins and sessions ------------------------------------------------------------------------

    async def login(self, name: str, password: str, remote: str) -> tuple[LoginResult,
                                                                           Session | None]:
        since = self.clock() - self.limit.window
        by_user = await self._failures("user_name", name, since)
        by_remote = await self._failures("remote", remote, since)
        if by_user >= self.limit.per_user or by_remote >= self.limit.per_remote:
            return LoginResult.RATE_LIMITED, None
        attempt = await self.db.fetch_value(
            "INSERT INTO login_attempts (user_name, remote, at, ok) VALUES (?, ?, ?, FALSE)"
            " RETURNING id", name[:64], remote[:64], self.clock())
        row = await self.db.fetch_one(
            "SELECT password_hash, disabled FROM users WHERE name = ?", name)
        if row is None:
            await burn_time(password)
            return LoginResult.INVALID, None
        if not await check_pin_async(password, row["password_hash"]) or row["disabled"]:
            return LoginResult.INVALID, None
        await self.db.execute("UPDATE login_attempts SET ok = TRUE WHERE id = ?", attempt)
        user = await self.get(name)
        assert user is not None
        return LoginResult.OK, await self._new_session(user)

    async def _failures(self, column: str, value: str, since: dt.datetime) -> int:
        count = await self.db.fetch_value(
            f"SELECT COUNT(*) AS n FROM login_attempts WHERE {column} = ? AND at >= ?"
            " AND ok = FALSE", value[:64], since)
        return int(count or 0)

    async def _new_session(self, user: User) -> Session:
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.session_ttl
        await self.db.execute(
            "INSERT INTO web_sessions (session_hash, user_name, csrf_token, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            secret_hash(session_id), user.name, csrf, now, expires)
        return Session(session_id, csrf, user, expires)

    async def session(self, session_id: str) -> Session | None:
        """The live session of a cookie's value, or None (unknown, expired, user disabled)."""
        row = await self.db.fetch_one(
            "SELECT s.csrf_token, s.expires_at, u.* FROM web_sessions s JOIN users u"
            " ON u.name = s.user_name WHERE s.session_hash = ?", secret_hash(session_id))
        if row is None or row["disabled"]:
            return None
        expires = as_datetime(row["expires_at"])
        if expires is None or expires <= self.clock():
            return None
        return Session(session_id, row["csrf_token"], _user(row), expires)

    async def end_session(self, session_id: str) -> None:
        await self.db.execute("DELETE FROM web_sessions WHERE session_hash = ?",
                              secret_hash(session_id))

    # API tokens ---------------------------------------------------------------------------------

    async def new_token(self, name: str, label: str = "") -> str:
        """A new token for `name`, returned once: only its hash is kept."""
        if await self.get(name) is None:
            raise UserError(f"no user {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self.db.execute(
            "INSERT INTO api_tokens (token_hash, user_name, label, created_at)"
            " VALUES (?, ?, ?, ?)", secret_hash(token), name, label[:200], self.clock())
        return token

    async def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = await self.db.fetch_one(
            "SELECT t.last_used_at, u.* FROM api_tokens t JOIN users u ON u.name = t.user_name"
            " WHERE t.token_hash = ?", secret_hash(token))
        if row is None or row["disabled"]:
            return None
        await self._touch(token, row)
        return _user(row)

    async def _touch(self, token: str, row: dict[str, Any]) -> None:
        """`last_used_at`, written at most once a minute (not a write per request)."""
        now = self.clock()
        last = as_datetime(row["last_used_at"])
        if last is None or now - last > dt.timedelta(minutes=1):
            await self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?",
                                  now, secret_hash(token))

    async def revoke_tokens(self, name: str) -> int:
        return await self.db.execute("DELETE FROM api_tokens WHERE user_name = ?", name)

    async def tokens(self, name: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all(
            "SELECT label, created_at, last_used_at FROM api_tokens WHERE user_name = ?"
            " ORDER BY created_at", name)
        return [{"label": r["label"], "created_at": as_datetime(r["created_at"]),
                 "last_used_at": as_datetime(r["last_used_at"])} for r in rows]
