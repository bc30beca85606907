"""Call records: every call leaves one row, the raw material of the contact-centre KPIs.

The app saves a record when the call starts and again as it goes on (save is an upsert by call
id), so a call cut short by a crash still leaves its start, caller and path; the row lives in
the database, so records survive a restart. The store never sees a secret: `keys` arrive with
the digits of secure entries already masked as '*' (the interpreter knows which are secure).

Durations are derived from the timestamps and stored too, so KPI queries need no date
arithmetic that differs between SQLite and PostgreSQL.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .db import Database, Row, as_datetime

OUTCOMES = ("self_served", "queue", "voicemail", "callback", "transfer", "abandoned", "error",
            "completed")
"""self_served: served by the IVR alone (the flow marked it); queue/voicemail/callback/transfer:
handed off; abandoned: the caller hung up first; error: the IVR failed; completed: ended
normally without counting as self-served (e.g. heard branch hours and hung up)."""

_KEYS = frozenset("0123456789*#ABCD ")  # a space may separate one read from the next


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


@dataclass(slots=True)
class CallRecord:
    call_id: str
    flow: str
    started_at: dt.datetime
    """When the call reached the IVR (ringing); aware datetimes throughout."""
    flow_version: str = ""
    caller: str = ""
    language: str = ""
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    path: list[str] = field(default_factory=list)
    """Node ids in the order visited (repeats included)."""
    keys: str = ""
    """Keys pressed, secure digits masked as '*' (a space may separate one read's keys from
    the next: '1 ****# 2')."""
    outcome: str | None = None
    """One of OUTCOMES; None while the call is in progress."""
    hangup_by: str | None = None
    """'caller', 'ivr' or 'agent' (free text: whoever the app saw hang up)."""
    queues: list[str] = field(default_factory=list)
    """The ACD queues the caller entered, in order, each once (a transfer adds the next)."""

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        for name in ("started_at", "answered_at", "ended_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if any("," in q or not q for q in self.queues):
            raise ValueError("a queue name is not empty and has no comma")
        if not set(self.keys) <= _KEYS:
            raise ValueError("keys holds only DTMF keys and spaces (secure digits as '*')")

    @property
    def last_node(self) -> str | None:
        return self.path[-1] if self.path else None

    @property
    def ring_s(self) -> float | None:
        """Start to answer."""
        return _seconds(self.started_at, self.answered_at)

    @property
    def ivr_s(self) -> float | None:
        """Answer to end: the time the caller spent with the IVR (and whoever took over)."""
        return _seconds(self.answered_at, self.ended_at)

    talk_s = ivr_s

    @property
    def total_s(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


_COLUMNS = ("call_id", "flow", "flow_version", "caller", "language", "started_at",
            "answered_at", "ended_at", "path", "last_node", "keys_pressed", "outcome",
            "hangup_by", "ring_s", "ivr_s", "total_s", "queues")


def _values(record: CallRecord) -> list[Any]:
    return [record.call_id, record.flow, record.flow_version, record.caller, record.language,
            record.started_at, record.answered_at, record.ended_at, json.dumps(record.path),
            record.last_node, record.keys, record.outcome, record.hangup_by, record.ring_s,
            record.ivr_s, record.total_s, _queues_text(record.queues)]


def _queues_text(queues: builtins.list[str]) -> str:
    return f",{','.join(queues)}," if queues else ""


def _record(row: Row) -> CallRecord:
    started = as_datetime(row["started_at"])
    assert started is not None
    return CallRecord(
        call_id=row["call_id"], flow=row["flow"], flow_version=row["flow_version"],
        caller=row["caller"], language=row["language"],
        started_at=started.astimezone(dt.UTC),
        answered_at=_utc(as_datetime(row["answered_at"])),
        ended_at=_utc(as_datetime(row["ended_at"])),
        path=[str(p) for p in json.loads(row["path"])], keys=row["keys_pressed"],
        outcome=row["outcome"], hangup_by=row["hangup_by"],
        queues=[q for q in str(row["queues"] or "").split(",") if q],
    )


def _like_literal(text: str) -> str:
    """`text` matched literally inside a LIKE pattern with ESCAPE '!' (a queue named a_b must
    not find the calls of queue axb)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class CallRecordStore:
    """Call records on a Database (the migrations create `call_records`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, record: CallRecord) -> None:
        """Insert, or replace the record with the same call id."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        await self.db.execute(
            f"INSERT INTO call_records ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _COLUMNS)})"
            f" ON CONFLICT (call_id) DO UPDATE SET {updates}",
            *_values(record),
        )

    async def get(self, call_id: str) -> CallRecord | None:
        row = await self.db.fetch_one(
            f"SELECT {', '.join(_COLUMNS)} FROM call_records WHERE call_id = ?", call_id
        )
        return None if row is None else _record(row)

    async def list(self, since: dt.datetime | None = None, limit: int = 100,
                   flow: str | None = None, *, until: dt.datetime | None = None,
                   caller: str | None = None, outcome: str | None = None,
                   queues: Collection[str] | None = None) -> builtins.list[CallRecord]:
        """Most recent first; `since` <= started_at < `until`; the others match exactly;
        `queues`: only calls that entered one of them (an empty collection: none)."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, op, value in (("started_at", ">=", since), ("started_at", "<", until),
                                  ("flow", "=", flow), ("caller", "=", caller),
                                  ("outcome", "=", outcome)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        if queues is not None:
            if not queues:
                return []
            where.append("(" + " OR ".join("queues LIKE ? ESCAPE '!'" for _ in queues) + ")")
            params.extend(f"%,{_like_literal(q)},%" for q in sorted(queues))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetch_all(
            f"SELECT {', '.join(_COLUMNS)} FROM call_records{clause}"
            f" ORDER BY started_at DESC, call_id LIMIT ?",
            *params, max(0, limit),
        )
        return [_record(r) for r in rows]

    async def containment(self, flow: str, since: dt.datetime | None = None) -> dict[str, Any]:
        """Containment, the first KPI: the share of a flow's finished calls served by the IVR
        alone, overall and by the node each call ended on (where callers give up or leave).

        {"flow", "calls", "self_served", "containment" (0..1 or None without calls),
         "by_outcome": {outcome: calls},
         "by_last_node": {node: {"calls", "self_served", "containment"}}}
        Calls still in progress (no outcome yet) are not counted.
        """
        params: builtins.list[Any] = [flow]
        clause = ""
        if since is not None:
            clause = " AND started_at >= ?"
            params.append(since)
        rows = await self.db.fetch_all(
            "SELECT last_node, outcome, COUNT(*) AS n FROM call_records"
            f" WHERE flow = ? AND outcome IS NOT NULL{clause} GROUP BY last_node, outcome",
            *params,
        )
        calls = served = 0
        by_outcome: dict[str, int] = {}
        by_node: dict[str, dict[str, Any]] = {}
        for row in rows:
            n, outcome = int(row["n"]), str(row["outcome"])
            node = by_node.setdefault(row["last_node"] or "", {"calls": 0, "self_served": 0})
            node["calls"] += n
            calls += n
            by_outcome[outcome] = by_outcome.get(outcome, 0) + n
            if outcome == "self_served":
                node["self_served"] += n
                served += n
        for node in by_node.values():
            node["containment"] = _share(node["self_served"], node["calls"])
        return {"flow": flow, "calls": calls, "self_served": served,
                "containment": _share(served, calls), "by_outcome": by_outcome,
                "by_last_node": dict(sorted(by_node.items()))}

    async def delete_before(self, before: dt.datetime) -> int:
        """Retention: drop records of calls that started before `before`."""
        return await self.db.execute("DELETE FROM call_records WHERE started_at < ?", before)
