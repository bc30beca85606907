"""Contact lists, imports and attempts on the project's Database (migration 0011).

Plain rows; the rules are elsewhere (gate.py, the dialler). An import is one transaction: a
file is imported whole or not at all, and a contact already in the campaign (same number) is
left as it is, so importing a file again adds nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from ..db import Database, Row
from .contacts_csv import ParsedList

__all__ = ["ImportResult", "OutboundStore"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    id: str
    added: int
    present: int
    """Good rows whose number the campaign already had (a re-import)."""
    rejected: int
    seen_before: bool
    """A file with the same contents was imported into the campaign before."""


class OutboundStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def import_contacts(self, campaign: str, parsed: ParsedList, file: str = "",
                              now: dt.datetime | None = None) -> ImportResult:
        now = now or dt.datetime.now(dt.UTC)
        import_id = "imp-" + secrets.token_hex(6)
        async with self.db.transaction() as tx:
            await tx.lock(f"outbound-import:{campaign}")
            seen = await tx.fetch_one(
                "SELECT id FROM outbound_imports WHERE campaign = ? AND sha256 = ?",
                campaign, parsed.sha256) is not None
            added = await tx.execute_many(
                "INSERT INTO outbound_contacts (id, campaign, number, timezone, language, name,"
                " fields, consent_at, night_consent, state, next_attempt_at, import_id, line,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?,"
                " ?, ?) ON CONFLICT (campaign, number) DO NOTHING",
                [("ct-" + secrets.token_hex(8), campaign, row.number, row.timezone,
                  row.language, row.name, json.dumps(row.fields, ensure_ascii=False),
                  row.consent_at, row.night_consent, now, import_id, row.line, now, now)
                 for row in parsed.rows])
            await tx.execute(
                "INSERT INTO outbound_imports (id, campaign, file, sha256, imported_at,"
                " rows_read, added, present, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                import_id, campaign, file, parsed.sha256, now,
                len(parsed.rows) + len(parsed.rejected), added, len(parsed.rows) - added,
                len(parsed.rejected))
        return ImportResult(import_id, added, len(parsed.rows) - added, len(parsed.rejected),
                            seen)

    async def contacts(self, campaign: str, limit: int = 100) -> list[Row]:
        rows = await self.db.fetch_all(
            "SELECT * FROM outbound_contacts WHERE campaign = ? ORDER BY line, id LIMIT ?",
            campaign, limit)
        for row in rows:
            row["fields"] = json.loads(row["fields"])
            row["night_consent"] = bool(row["night_consent"])
        return rows

    async def count(self, campaign: str) -> int:
        return int(await self.db.fetch_value(
            "SELECT COUNT(*) FROM outbound_contacts WHERE campaign = ?", campaign))
