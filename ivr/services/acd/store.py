"""The ACD's durable state: agents, the callers in the queues, and the queue log.

The ACD works in memory and writes through to this store, so an app restart finds the agents
in their states, the callers still waiting in their places and the queue log intact. The store
is plain rows; the ACD owns the rules (who may ring, what a state change means).

Callers keep their place by `seq`, one arrival sequence for all queues, allocated inside the
insert's transaction (under a lock, so concurrent joins never share a number). A re-join after
a restart is idempotent: the channel keeps its original seq and entered_at.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..db import Database, Row, as_datetime
from .queue_log import NONE, QueueLogEvent


class EntryState(enum.StrEnum):
    """Where an entry is on its way to an agent. Str-valued: the value is what the database
    row (acd_entries.state) and the REST views hold, unchanged."""

    WAITING = "waiting"
    """In line (a caller in the holding bridge, a callback not offered yet)."""
    RINGING = "ringing"
    """Offered: agents' phones ring for it (or, customer-first, the customer's phone)."""
    CONNECTED = "connected"
    """Talking with an agent: no longer counted in anyone's position."""

AGENT_STATES = ("logged_out", "available", "ringing", "on_call", "wrap_up", "paused")


def _check_aware(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")


def _utc(value: Any) -> dt.datetime | None:
    parsed = as_datetime(value)
    return None if parsed is None else parsed.astimezone(dt.UTC)


def _utc_required(value: Any) -> dt.datetime:
    parsed = _utc(value)
    assert parsed is not None
    return parsed


@dataclass(slots=True)
class AgentRow:
    agent_id: str
    state: str
    """One of AGENT_STATES."""
    pause_reason: str
    state_since: dt.datetime
    logged_in_at: dt.datetime | None
    idle_since: dt.datetime | None
    """Since when the agent waits for a call (longest-idle distribution)."""
    calls_taken: int = 0
    missed_in_row: int = 0
    """Consecutive unanswered offers (auto-pause after too many)."""

    def __post_init__(self) -> None:
        if self.state not in AGENT_STATES:
            raise ValueError(f"agent state must be one of {', '.join(AGENT_STATES)}")
        _check_aware(self, "state_since", "logged_in_at", "idle_since")


@dataclass(slots=True)
class EntryRow:
    channel_id: str
    queue: str
    priority: int
    """Higher is served first."""
    entered_at: dt.datetime
    seq: int
    """Arrival order, the tie-break within a priority; the store assigns it."""
    caller: str
    language: str
    flow: str
    node: str
    """The flow and node the caller came from (where to resume on a timeout or exit key)."""
    variables: dict[str, Any]
    """The call's flow variables (JSON-serializable)."""
    orig_position: int
    """The position on joining (queue_log ENTERQUEUE/CONNECT/ABANDON report it)."""
    state: EntryState = EntryState.WAITING
    agent_id: str | None = None
    agent_channel: str | None = None
    bridge_id: str | None = None
    connected_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        try:  # text naming a state (a test's replace()) becomes it; anything else is refused
            self.state = EntryState(self.state)
        except ValueError:
            raise ValueError("entry state must be one of "
                             f"{', '.join(EntryState)}") from None
        _check_aware(self, "entered_at", "connected_at")


_AGENT_COLUMNS = ("agent_id", "state", "pause_reason", "state_since", "logged_in_at",
                  "idle_since", "calls_taken", "missed_in_row")
_ENTRY_COLUMNS = ("channel_id", "queue", "priority", "entered_at", "seq", "caller", "language",
                  "flow", "node", "variables", "orig_position", "state", "agent_id",
                  "agent_channel", "bridge_id", "connected_at")
_ENTRY_UPDATES = ("queue", "priority", "state", "agent_id", "agent_channel", "bridge_id",
                  "connected_at")
_LOG_COLUMNS = ("time", "call_id", "queue", "agent", "event", "data")


def _agent(row: Row) -> AgentRow:
    return AgentRow(
        agent_id=row["agent_id"], state=row["state"], pause_reason=row["pause_reason"],
        state_since=_utc_required(row["state_since"]), logged_in_at=_utc(row["logged_in_at"]),
        idle_since=_utc(row["idle_since"]), calls_taken=int(row["calls_taken"]),
        missed_in_row=int(row["missed_in_row"]),
    )


def _entry_values(row: EntryRow, seq: int) -> list[Any]:
    return [row.channel_id, row.queue, row.priority, row.entered_at, seq, row.caller,
            row.language, row.flow, row.node, json.dumps(row.variables, ensure_ascii=False),
            row.orig_position, row.state.value, row.agent_id, row.agent_channel, row.bridge_id,
            row.connected_at]


def _entry(row: Row) -> EntryRow:
    return EntryRow(
        channel_id=row["channel_id"], queue=row["queue"], priority=int(row["priority"]),
        entered_at=_utc_required(row["entered_at"]), seq=int(row["seq"]), caller=row["caller"],
        language=row["language"], flow=row["flow"], node=row["node"],
        variables=json.loads(row["variables"]), orig_position=int(row["orig_position"]),
        state=EntryState(row["state"]), agent_id=row["agent_id"],
        agent_channel=row["agent_channel"], bridge_id=row["bridge_id"],
        connected_at=_utc(row["connected_at"]),
    )


def _event(row: Row) -> QueueLogEvent:
    data = str(row["data"])
    return QueueLogEvent(
        time=float(row["time"]), call_id=row["call_id"], queue=row["queue"],
        agent=row["agent"], event=row["event"], data=tuple(data.split("|")) if data else (),
    )


class AcdStore:
    """The ACD's rows on a Database (the migrations create the `acd_*` tables)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save_agent(self, row: AgentRow) -> None:
        """Insert, or replace the agent with the same id."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in _AGENT_COLUMNS[1:])
        await self.db.execute(
            f"INSERT INTO acd_agents ({', '.join(_AGENT_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _AGENT_COLUMNS)})"
            f" ON CONFLICT (agent_id) DO UPDATE SET {updates}",
            row.agent_id, row.state, row.pause_reason, row.state_since, row.logged_in_at,
            row.idle_since, row.calls_taken, row.missed_in_row,
        )

    async def agents(self) -> list[AgentRow]:
        rows = await self.db.fetch_all(
            f"SELECT {', '.join(_AGENT_COLUMNS)} FROM acd_agents ORDER BY agent_id"
        )
        return [_agent(r) for r in rows]

    async def add_entry(self, row: EntryRow) -> EntryRow:
        """Join with a fresh seq (row.seq is ignored); the stored row comes back. A channel
        already in a queue is left as it is and its stored row returned (re-join after a
        restart)."""
        select = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM acd_entries WHERE channel_id = ?"
        async with self.db.transaction() as tx:
            await tx.lock("acd_entries")
            existing = await tx.fetch_one(select, row.channel_id)
            if existing is not None:
                return _entry(existing)
            seq = int(await tx.fetch_value("SELECT COALESCE(MAX(seq), 0) + 1 FROM acd_entries"))
            await tx.execute(
                f"INSERT INTO acd_entries ({', '.join(_ENTRY_COLUMNS)})"
                f" VALUES ({', '.join('?' for _ in _ENTRY_COLUMNS)})",
                *_entry_values(row, seq),
            )
            stored = await tx.fetch_one(select, row.channel_id)
        assert stored is not None
        return _entry(stored)

    async def update_entry(self, row: EntryRow) -> None:
        """Save what changes while a caller is queued: queue, priority, state and the agent,
        channel, bridge and time of the connection. The rest is fixed on joining. An entry
        already removed (the caller hung up meanwhile) stays removed."""
        sets = ", ".join(f"{c} = ?" for c in _ENTRY_UPDATES)
        await self.db.execute(
            f"UPDATE acd_entries SET {sets} WHERE channel_id = ?",
            row.queue, row.priority, row.state.value, row.agent_id, row.agent_channel,
            row.bridge_id,
            row.connected_at, row.channel_id,
        )

    async def remove_entry(self, channel_id: str) -> None:
        await self.db.execute("DELETE FROM acd_entries WHERE channel_id = ?", channel_id)

    async def entries(self, queue: str | None = None) -> list[EntryRow]:
        """In the order of service: priority (highest first), then arrival."""
        clause = "" if queue is None else " WHERE queue = ?"
        rows = await self.db.fetch_all(
            f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM acd_entries{clause}"
            " ORDER BY priority DESC, seq",
            *(() if queue is None else (queue,)),
        )
        return [_entry(r) for r in rows]

    async def entry(self, channel_id: str) -> EntryRow | None:
        row = await self.db.fetch_one(
            f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM acd_entries WHERE channel_id = ?",
            channel_id,
        )
        return None if row is None else _entry(row)

    async def append_log(self, events: Sequence[QueueLogEvent]) -> None:
        """All or none: a batch never lands half-written. A `|` inside a data field becomes a
        space (as in the queue_log file), since the fields are stored joined by `|`."""
        if not events:
            return
        insert = (f"INSERT INTO acd_queue_log ({', '.join(_LOG_COLUMNS)})"
                  f" VALUES ({', '.join('?' for _ in _LOG_COLUMNS)})")
        async with self.db.transaction() as tx:
            for e in events:
                await tx.execute(insert, float(e.time), e.call_id, e.queue, e.agent, e.event,
                                 "|".join(d.replace("|", " ") for d in e.data))

    async def connected(self, call_id: str, interface: str) -> bool:
        """Whether the queue log has this call connected to this member (CONNECT)."""
        found = await self.db.fetch_value(
            "SELECT COUNT(*) AS n FROM acd_queue_log WHERE call_id = ? AND agent = ?"
            " AND event = 'CONNECT'", call_id, interface)
        return int(found or 0) > 0

    async def log_events(self, *, since: float | None = None, until: float | None = None,
                         queue: str | None = None) -> list[QueueLogEvent]:
        """In the order written, within since <= time < until. With `queue`, that queue's
        events and those logged for no one queue (queue 'NONE': they apply to all)."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("time >= ?")
            params.append(float(since))
        if until is not None:
            where.append("time < ?")
            params.append(float(until))
        if queue is not None:
            where.append("queue IN (?, ?)")
            params += [queue, NONE]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetch_all(
            f"SELECT {', '.join(_LOG_COLUMNS)} FROM acd_queue_log{clause} ORDER BY time, id",
            *params,
        )
        return [_event(r) for r in rows]
