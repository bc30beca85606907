"""Callback requests, their attempts and the do-not-call list, on the project's Database.

Plain rows: the service (service.py) owns the rules. Every state change is written as it
happens, so a restart finds each promise where it was (a dial cut short by the restart is
taken up again as pending).
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from ..db import Database, Row, as_datetime

__all__ = ["ACTIVE", "FINAL", "Attempt", "Callback", "CallbackState", "CallbackStore",
           "normalize_number"]


class CallbackState(enum.StrEnum):
    """Where a promise to call back stands. Str-valued: the value is what the callbacks
    table and the REST API hold, unchanged."""

    PENDING = "pending"
    """Waiting for its next attempt (or for its turn, once due)."""
    DIALING = "dialing"
    """An attempt is under way."""
    COMPLETED = "completed"
    """The customer talked to an agent (or hung up on being called back: kept all the same)."""
    EXPIRED = "expired"
    """The attempts or the time ran out."""
    CANCELLED = "cancelled"
    """By the REST API."""
    BLOCKED = "blocked"
    """The number is on the do-not-call list."""


ACTIVE = (CallbackState.PENDING, CallbackState.DIALING)
FINAL = (CallbackState.COMPLETED, CallbackState.EXPIRED, CallbackState.CANCELLED,
         CallbackState.BLOCKED)


def normalize_number(text: str) -> str:
    """Digits with an optional leading +; what the DNC list and the dialler compare."""
    text = text.strip()
    plus = "+" if text.startswith("+") else ""
    return plus + "".join(ch for ch in text if ch.isdigit())


def _utc(value: Any) -> dt.datetime:
    parsed = as_datetime(value)
    assert parsed is not None
    return parsed.astimezone(dt.UTC)


def _utc_or_none(value: Any) -> dt.datetime | None:
    return None if value is None else _utc(value)


def new_callback_id() -> str:
    return "cb-" + secrets.token_hex(6)


@dataclass(slots=True)
class Callback:
    id: str
    queue: str
    number: str
    timezone: str
    entered_at: dt.datetime
    """The caller's place in the queue: served in turn with the callers who still wait."""
    next_attempt_at: dt.datetime
    expires_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    source: str = "node"
    """queue (a key while waiting), node (a flow's callback node), voicemail, api."""
    caller: str = ""
    language: str = ""
    priority: int = 0
    orig_position: int = 1
    message_id: str = ""
    state: CallbackState = CallbackState.PENDING
    outcome: str = ""
    not_before: dt.datetime | None = None
    attempts: int = 0
    agent_id: str = ""

    def __post_init__(self) -> None:
        self.state = CallbackState(self.state)  # text naming a state becomes it

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        out["state"] = self.state.value
        return out


@dataclass(frozen=True, slots=True)
class Attempt:
    callback_id: str
    attempt: int
    started_at: dt.datetime
    ended_at: dt.datetime
    result: str
    """answered, abandoned (answered, hung up before an agent), no_answer, busy, failed,
    not_connected (answered, left the queue by a limit), dnc (never dialled), agent_gone (the
    agent hung up before the customer answered), interrupted (cancelled, app stopped)."""
    agent_id: str = ""
    channel_id: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat(), "result": self.result,
                "agent_id": self.agent_id, "channel_id": self.channel_id,
                "detail": self.detail}


_COLUMNS = ("id", "queue", "number", "caller", "language", "priority", "entered_at",
            "orig_position", "source", "message_id", "timezone", "state", "outcome",
            "not_before", "next_attempt_at", "expires_at", "attempts", "agent_id",
            "created_at", "updated_at")
_UPDATES = ("state", "outcome", "not_before", "next_attempt_at", "expires_at", "attempts",
            "agent_id", "updated_at")
_TIMES = frozenset({"entered_at", "next_attempt_at", "expires_at", "created_at", "updated_at"})


def _column(cb: Callback, name: str) -> object:
    """A column's value as the database takes it: the state as its text."""
    value = getattr(cb, name)
    return value.value if isinstance(value, CallbackState) else value


def _callback(row: Row) -> Callback:
    values = {c: row[c] for c in _COLUMNS}
    for name in _TIMES:
        values[name] = _utc(values[name])
    values["not_before"] = _utc_or_none(values["not_before"])
    values["priority"] = int(values["priority"])
    values["orig_position"] = int(values["orig_position"])
    values["attempts"] = int(values["attempts"])
    return Callback(**values)


def _attempt(row: Row) -> Attempt:
    return Attempt(row["callback_id"], int(row["attempt"]), _utc(row["started_at"]),
                   _utc(row["ended_at"]), row["result"], row["agent_id"], row["channel_id"],
                   row["detail"])


class CallbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, cb: Callback) -> None:
        await self.db.execute(
            f"INSERT INTO callbacks ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _COLUMNS)})",
            *(_column(cb, c) for c in _COLUMNS))

    async def update(self, cb: Callback) -> None:
        await self.db.execute(
            f"UPDATE callbacks SET {', '.join(f'{c} = ?' for c in _UPDATES)} WHERE id = ?",
            *(_column(cb, c) for c in _UPDATES), cb.id)

    async def get(self, callback_id: str) -> Callback | None:
        row = await self.db.fetch_one(
            f"SELECT {', '.join(_COLUMNS)} FROM callbacks WHERE id = ?", callback_id)
        return None if row is None else _callback(row)

    async def find(self, *, states: tuple[CallbackState, ...] = (), queue: str | None = None,
                   limit: int = 500) -> list[Callback]:
        """Newest first."""
        where: list[str] = []
        params: list[Any] = []
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params += [CallbackState(s).value for s in states]
        if queue is not None:
            where.append("queue = ?")
            params.append(queue)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetch_all(
            f"SELECT {', '.join(_COLUMNS)} FROM callbacks{clause}"
            f" ORDER BY created_at DESC, id LIMIT {int(limit)}", *params)
        return [_callback(r) for r in rows]

    async def add_attempt(self, attempt: Attempt) -> None:
        await self.db.execute(
            "INSERT INTO callback_attempts (callback_id, attempt, started_at, ended_at, result,"
            " agent_id, channel_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            attempt.callback_id, attempt.attempt, attempt.started_at, attempt.ended_at,
            attempt.result, attempt.agent_id, attempt.channel_id, attempt.detail)

    async def attempts(self, callback_id: str) -> list[Attempt]:
        rows = await self.db.fetch_all(
            "SELECT callback_id, attempt, started_at, ended_at, result, agent_id, channel_id,"
            " detail FROM callback_attempts WHERE callback_id = ? ORDER BY id", callback_id)
        return [_attempt(r) for r in rows]

    # -- do not call ---------------------------------------------------------------------

    async def dnc_add(self, number: str, reason: str = "") -> str:
        number = normalize_number(number)
        await self.db.execute(
            "INSERT INTO callback_dnc (number, reason, added_at) VALUES (?, ?, ?)"
            " ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
            number, reason, dt.datetime.now(dt.UTC))
        return number

    async def dnc_remove(self, number: str) -> bool:
        return await self.db.execute("DELETE FROM callback_dnc WHERE number = ?",
                                     normalize_number(number)) > 0

    async def dnc_contains(self, number: str) -> bool:
        return await self.db.fetch_one("SELECT number FROM callback_dnc WHERE number = ?",
                                       normalize_number(number)) is not None

    async def dnc_list(self) -> list[dict[str, str]]:
        rows = await self.db.fetch_all(
            "SELECT number, reason, added_at FROM callback_dnc ORDER BY number")
        return [{"number": r["number"], "reason": r["reason"],
                 "added_at": _utc(r["added_at"]).isoformat()} for r in rows]
