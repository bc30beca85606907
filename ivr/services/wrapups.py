"""After-call work: an agent's disposition and notes for a call, and repeat contacts.

A disposition is one of a short list of codes (what reporting groups calls by); the codes are
data in queues.yaml (per queue if need be: acd/config_dispositions.py), so the caller of
`check_wrapup` says which apply to the call. The notes are free text for whoever takes the
caller's next contact. Saved again, a wrap-up replaces the earlier one (an agent may correct
it). First-call resolution: a contact is resolved at first call when the same caller does not
call again within the window (7 days by default, as contact centers commonly count it);
`earlier_contacts` gives the agent the caller's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from .db import Database, Row, as_datetime

__all__ = ["FCR_WINDOW", "Wrapup", "WrapupError", "WrapupStore", "check_wrapup"]

FCR_WINDOW = dt.timedelta(days=7)
MAX_NOTES = 2000


class WrapupError(ValueError):
    """A wrap-up that cannot be saved as given: the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Wrapup:
    call_id: str
    agent_id: str
    disposition: str
    notes: str
    caller: str
    saved_at: dt.datetime

    def as_json(self) -> dict[str, object]:
        return {"call_id": self.call_id, "agent_id": self.agent_id,
                "disposition": self.disposition, "notes": self.notes, "caller": self.caller,
                "saved_at": self.saved_at.isoformat()}


def check_wrapup(disposition: object, notes: object,
                 allowed: Collection[str]) -> tuple[str, str]:
    """(disposition, notes stripped) if the disposition is one of `allowed`, the codes of the
    call's queue; WrapupError naming them otherwise."""
    if not isinstance(disposition, str) or disposition not in allowed:
        raise WrapupError(f"disposition: one of {', '.join(allowed)}")
    if not isinstance(notes, str):
        raise WrapupError("notes: text")
    if len(notes) > MAX_NOTES:
        raise WrapupError(f"notes: at most {MAX_NOTES} characters, not {len(notes)}")
    return disposition, notes.strip()


def _wrapup(row: Row) -> Wrapup:
    saved = as_datetime(row["saved_at"])
    assert saved is not None
    return Wrapup(row["call_id"], row["agent_id"], row["disposition"], row["notes"],
                  row["caller"], saved)


class WrapupStore:
    def __init__(self, db: Database, fcr_window: dt.timedelta = FCR_WINDOW) -> None:
        self.db = db
        self.fcr_window = fcr_window

    async def save(self, call_id: str, agent_id: str, disposition: str, notes: str,
                   caller: str, now: dt.datetime | None = None) -> Wrapup:
        saved = now or dt.datetime.now(dt.UTC)
        await self.db.execute(
            "INSERT INTO call_wrapups (call_id, agent_id, disposition, notes, caller, saved_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET"
            " agent_id = excluded.agent_id, disposition = excluded.disposition,"
            " notes = excluded.notes, caller = excluded.caller, saved_at = excluded.saved_at",
            call_id, agent_id, disposition, notes, caller, saved)
        return Wrapup(call_id, agent_id, disposition, notes, caller, saved)

    async def get(self, call_id: str) -> Wrapup | None:
        row = await self.db.fetch_one("SELECT * FROM call_wrapups WHERE call_id = ?", call_id)
        return _wrapup(row) if row else None

    async def earlier_contacts(self, caller: str, before: dt.datetime,
                               limit: int = 5) -> list[Wrapup]:
        """The caller's earlier wrapped-up contacts, newest first (none for a hidden number)."""
        if not caller or caller.lower() in ("anonymous", "unknown"):
            return []
        rows = await self.db.fetch_all(
            "SELECT * FROM call_wrapups WHERE caller = ? AND saved_at < ?"
            " ORDER BY saved_at DESC LIMIT ?", caller, before, limit)
        return [_wrapup(r) for r in rows]

    async def resolved_first_time(self, wrapup: Wrapup,
                                  window: dt.timedelta | None = None) -> bool | None:
        """No later call from the caller within the window (any call: the call records):
        True; one: False; None while the window is still open and nobody called again."""
        window = window or self.fcr_window
        again = await self.db.fetch_value(
            "SELECT COUNT(*) AS n FROM call_records WHERE caller = ? AND started_at > ?"
            " AND started_at <= ?", wrapup.caller, wrapup.saved_at, wrapup.saved_at + window)
        if int(again or 0) > 0:
            return False
        return True if dt.datetime.now(dt.UTC) > wrapup.saved_at + window else None
