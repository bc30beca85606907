"""Contact lists, imports and attempts on the project's Database (migration 0011).

Plain rows; the rules are elsewhere (gate.py, the dialler). An import is one transaction: a
file is imported whole or not at all, and a contact already in the campaign (same number) is
left as it is, so importing a file again adds nothing.

A contact is `pending` (never tried), `dialling` (claimed by one dialler: `claim` is a
compare-and-set, so two passes never dial it twice), `retry` (its next attempt is due at
`next_attempt_at`) or `done` (its `outcome` says why). Every dial and every refusal of the gate
is one attempt row; what the gate reads of a number (its do-not-call hits, its past dials,
callbacks included) is looked up here.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from ..db import Database, Row
from .contacts_csv import ParsedList
from .gate import DncHits, PastAttempt

__all__ = ["NOT_DIALLED", "AttemptRow", "Contact", "ImportResult", "OutboundStore"]

NOT_DIALLED = ("dnc", "outside_window", "blocked")
"""Attempt results of a refusal by the gate: stored, never counted as a dial of the number."""


def _forms(number: str) -> tuple[str, str]:
    """The number with its leading + and without."""
    bare = number.lstrip("+")
    return "+" + bare, bare


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    campaign: str
    number: str
    timezone: str
    language: str
    name: str
    fields: dict[str, str]
    consent_at: dt.datetime | None
    night_consent: bool
    state: str
    outcome: str
    attempts: int
    next_attempt_at: dt.datetime
    agent_id: str
    line: int

    @classmethod
    def of(cls, row: Row) -> Contact:
        return cls(id=row["id"], campaign=row["campaign"], number=row["number"],
                   timezone=row["timezone"], language=row["language"], name=row["name"],
                   fields=json.loads(row["fields"]),
                   consent_at=row["consent_at"], night_consent=bool(row["night_consent"]),
                   state=row["state"], outcome=row["outcome"], attempts=row["attempts"],
                   next_attempt_at=row["next_attempt_at"], agent_id=row["agent_id"],
                   line=row["line"])


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One dial of a contact, or one refusal of the gate (result dnc / outside_window)."""

    contact_id: str
    campaign: str
    number: str
    attempt: int
    started_at: dt.datetime
    ended_at: dt.datetime
    result: str
    reasons: tuple[str, ...] = ()
    answered_at: dt.datetime | None = None
    connected_at: dt.datetime | None = None
    amd_status: str = ""
    amd_cause: str = ""
    agent_id: str = ""
    disposition: str = ""
    channel_id: str = ""
    detail: str = ""


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

    async def states(self, campaign: str) -> dict[str, int]:
        """How many of the campaign's contacts are in each state."""
        rows = await self.db.fetch_all(
            "SELECT state, COUNT(*) AS n FROM outbound_contacts WHERE campaign = ?"
            " GROUP BY state", campaign)
        return {row["state"]: int(row["n"]) for row in rows}

    async def count(self, campaign: str) -> int:
        return int(await self.db.fetch_value(
            "SELECT COUNT(*) FROM outbound_contacts WHERE campaign = ?", campaign))

    # dialling ------------------------------------------------------------------------------

    async def due(self, campaign: str, now: dt.datetime, limit: int) -> list[Contact]:
        """Contacts whose next attempt is due, oldest first (then in the file's order). Each
        state's part is read in index order (migration 0013) and only those are merged: a
        list of thousands imported at once is never sorted whole."""
        part = ("SELECT * FROM outbound_contacts WHERE campaign = ? AND state = '{}' AND"
                " next_attempt_at <= ? ORDER BY next_attempt_at, line LIMIT ?")
        rows = await self.db.fetch_all(
            f"SELECT * FROM ({part.format('pending')}) AS pending UNION ALL"
            f" SELECT * FROM ({part.format('retry')}) AS retry"
            " ORDER BY next_attempt_at, line LIMIT ?",
            campaign, now, limit, campaign, now, limit, limit)
        return [Contact.of(row) for row in rows]

    async def contact(self, contact_id: str) -> Contact | None:
        row = await self.db.fetch_one("SELECT * FROM outbound_contacts WHERE id = ?", contact_id)
        return Contact.of(row) if row else None

    async def claim(self, contact_id: str, now: dt.datetime) -> bool:
        """Take a due contact for one dial; False if another pass (or process) has it."""
        return await self.db.execute(
            "UPDATE outbound_contacts SET state = 'dialling', updated_at = ? WHERE id = ?"
            " AND state IN ('pending', 'retry')", now, contact_id) == 1

    async def release_claims(self, campaign: str, now: dt.datetime) -> int:
        """Contacts a stopped process left `dialling`: due again (their call died with it)."""
        return await self.db.execute(
            "UPDATE outbound_contacts SET state = 'retry', next_attempt_at = ?, updated_at = ?"
            " WHERE campaign = ? AND state = 'dialling'", now, now, campaign)

    async def settle(self, contact: Contact, *, state: str, outcome: str,
                     next_attempt_at: dt.datetime | None, dialled: bool, agent_id: str = "",
                     now: dt.datetime) -> None:
        await self.db.execute(
            "UPDATE outbound_contacts SET state = ?, outcome = ?, attempts = attempts + ?,"
            " next_attempt_at = ?, agent_id = CASE WHEN ? = '' THEN agent_id ELSE ? END,"
            " updated_at = ? WHERE id = ?",
            state, outcome, 1 if dialled else 0, next_attempt_at or contact.next_attempt_at,
            agent_id, agent_id, now, contact.id)

    async def record_attempt(self, a: AttemptRow) -> None:
        await self.db.execute(
            "INSERT INTO outbound_attempts (contact_id, campaign, number, attempt, started_at,"
            " answered_at, connected_at, ended_at, result, reasons, amd_status, amd_cause,"
            " agent_id, disposition, channel_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?)",
            a.contact_id, a.campaign, a.number, a.attempt, a.started_at, a.answered_at,
            a.connected_at, a.ended_at, a.result, ",".join(a.reasons), a.amd_status,
            a.amd_cause, a.agent_id, a.disposition, a.channel_id, a.detail[:500])

    async def attempts(self, campaign: str, number: str | None = None,
                       limit: int = 200) -> list[Row]:
        if number is None:
            return await self.db.fetch_all(
                "SELECT * FROM outbound_attempts WHERE campaign = ? ORDER BY id DESC LIMIT ?",
                campaign, limit)
        return await self.db.fetch_all(
            "SELECT * FROM outbound_attempts WHERE campaign = ? AND number = ? ORDER BY id",
            campaign, number)

    async def attempts_between(self, campaign: str, since: dt.datetime,
                               until: dt.datetime) -> list[Row]:
        return await self.db.fetch_all(
            "SELECT * FROM outbound_attempts WHERE campaign = ? AND started_at >= ?"
            " AND started_at < ? ORDER BY started_at", campaign, since, until)

    async def attempt_of_channel(self, channel_id: str) -> Row | None:
        return await self.db.fetch_one(
            "SELECT * FROM outbound_attempts WHERE channel_id = ? ORDER BY id DESC LIMIT 1",
            channel_id)

    async def set_disposition(self, attempt_id: int, contact_id: str, code: str,
                              now: dt.datetime) -> None:
        """The agent's wrap-up code, on the attempt and as the contact's outcome."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE outbound_attempts SET disposition = ? WHERE id = ?", code,
                             attempt_id)
            await tx.execute("UPDATE outbound_contacts SET outcome = ?, updated_at = ?"
                             " WHERE id = ?", code, now, contact_id)

    # what the gate reads ---------------------------------------------------------------------

    async def history(self, number: str) -> tuple[PastAttempt, ...]:
        """Every dial of the number (with or without its +): campaigns' attempts (not the
        gate's refusals) and callbacks' attempts, oldest first."""
        forms = _forms(number)
        rows = await self.db.fetch_all(
            "SELECT started_at, result, campaign FROM outbound_attempts WHERE number IN (?, ?)"
            " AND result NOT IN (?, ?, ?) UNION ALL SELECT a.started_at, a.result, '' FROM"
            " callback_attempts a JOIN callbacks c ON c.id = a.callback_id"
            " WHERE c.number IN (?, ?) AND a.result <> 'dnc'", *forms, *NOT_DIALLED, *forms)
        past = [PastAttempt(r["started_at"], r["result"], r["campaign"]) for r in rows]
        return tuple(sorted(past, key=lambda a: a.at))

    async def dnc_hits(self, campaign: str, number: str) -> DncHits:
        """The lists' say on the number, written with its + or without (lists and contact
        files do not agree on it)."""
        forms = _forms(number)
        row = await self.db.fetch_one(
            "SELECT EXISTS (SELECT 1 FROM callback_dnc WHERE number IN (?, ?)) AS internal,"
            " EXISTS (SELECT 1 FROM outbound_dnc WHERE campaign = ? AND number IN (?, ?))"
            " AS own, EXISTS (SELECT 1 FROM outbound_national_dnc WHERE number IN (?, ?))"
            " AS national, (SELECT MAX(list_date) FROM outbound_national_lists) AS latest",
            *forms, campaign, *forms, *forms)
        assert row is not None
        internal, own, national = bool(row["internal"]), bool(row["own"]), bool(row["national"])
        latest = row["latest"]
        if isinstance(latest, str):
            latest = dt.date.fromisoformat(latest)
        return DncHits(internal=internal, campaign=own, national=national,
                       national_list_date=latest)

    async def opt_out(self, number: str, reason: str, now: dt.datetime | None = None) -> None:
        """On the internal do-not-call list at once (every campaign and callback reads it)."""
        await self.db.execute(
            "INSERT INTO callback_dnc (number, reason, added_at) VALUES (?, ?, ?)"
            " ON CONFLICT (number) DO NOTHING", number, reason, now or dt.datetime.now(dt.UTC))

    async def add_campaign_dnc(self, campaign: str, number: str, reason: str = "",
                               now: dt.datetime | None = None) -> None:
        await self.db.execute(
            "INSERT INTO outbound_dnc (campaign, number, reason, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (campaign, number) DO NOTHING", campaign, number, reason,
            now or dt.datetime.now(dt.UTC))

    async def pacing_counts(self, campaign: str, since: dt.datetime) -> dict[str, int]:
        """Attempts by result since `since` (the abandonment window), refusals left out."""
        rows = await self.db.fetch_all(
            "SELECT result, COUNT(*) AS n FROM outbound_attempts WHERE campaign = ?"
            " AND started_at >= ? AND result NOT IN (?, ?, ?) GROUP BY result",
            campaign, since, *NOT_DIALLED)
        return {row["result"]: int(row["n"]) for row in rows}

    async def import_national(self, numbers: list[str], list_date: dt.date, source: str = "",
                              now: dt.datetime | None = None) -> str:
        """The national do-not-call list, replaced whole in one transaction: the gate then
        reads these numbers and this date (a rule set may refuse a list too old)."""
        now = now or dt.datetime.now(dt.UTC)
        list_id = "nat-" + secrets.token_hex(6)
        async with self.db.transaction() as tx:
            await tx.lock("outbound-national-dnc")
            await tx.execute("DELETE FROM outbound_national_dnc")
            await tx.execute_many(
                "INSERT INTO outbound_national_dnc (number) VALUES (?) ON CONFLICT (number)"
                " DO NOTHING", [(n,) for n in numbers])
            await tx.execute(
                "INSERT INTO outbound_national_lists (id, list_date, source, numbers,"
                " imported_at) VALUES (?, ?, ?, ?, ?)", list_id, list_date, source,
                len(set(numbers)), now)
        return list_id

    # running -------------------------------------------------------------------------------

    async def running(self) -> set[str]:
        rows = await self.db.fetch_all("SELECT campaign FROM outbound_runs WHERE running")
        return {row["campaign"] for row in rows}

    async def set_running(self, campaign: str, running: bool, by: str = "",
                          now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        await self.db.execute(
            "INSERT INTO outbound_runs (campaign, running, changed_at, changed_by)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (campaign) DO UPDATE SET running = ?,"
            " changed_at = ?, changed_by = ?", campaign, running, now, by, running, now, by)
