"""A contact list in CSV, read into rows the store imports, every bad row with its line and why.

Pure (no database), so the CLI, REST and tests read a file the same way. The header names the
columns: `number` (required), then any of `timezone`, `region`, `language`, `name`,
`consent_at`, `night_consent`; every other column is a custom field, shown on the agent's
screen and given to the flow as a variable (its header, lowercased, spaces as _). A row is
refused, never guessed at: a number with letters or more than 15 digits, a zone nobody knows,
a region with several zones, a language the prompts lack, a number already on an earlier line.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..acd.config_callback import valid_timezone
from ..callback.schedule import zone_by_prefix
from .campaign import CampaignConfig
from .gate import valid_number

__all__ = ["ContactListError", "ContactRow", "ParsedList", "Rejected", "parse_contacts",
           "zone_for"]

MAX_ROWS = 1_000_000
MAX_CELL = 1000
_KNOWN = ("number", "timezone", "region", "language", "name", "consent_at", "night_consent")
_ALIASES = {"phone": "number", "phone_number": "number", "tz": "timezone",
            "time_zone": "timezone", "lang": "language"}
_FIELD = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_PUNCTUATION = re.compile(r"[\s().\-/]")
_TRUE, _FALSE = {"1", "yes", "y", "true", "t"}, {"", "0", "no", "n", "false", "f"}
US_STATE_ZONES = {
    **dict.fromkeys("CT DC DE FL GA IN KY MA MD ME MI NC NH NJ NY OH PA RI SC VA VT WV".split(),
                    "America/New_York"),
    **dict.fromkeys("AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI".split(),
                    "America/Chicago"),
    **dict.fromkeys("CO ID MT NM UT WY".split(), "America/Denver"),
    "AZ": "America/Phoenix", "CA": "America/Los_Angeles", "NV": "America/Los_Angeles",
    "OR": "America/Los_Angeles", "WA": "America/Los_Angeles", "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu", "PR": "America/Puerto_Rico"}
"""A US state's main zone (states split between two zones get the larger part's)."""


class ContactListError(ValueError):
    """The file as a whole cannot be read (no header, no number column, too big)."""


@dataclass(frozen=True, slots=True)
class ContactRow:
    line: int
    number: str
    timezone: str
    language: str = ""
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    consent_at: dt.datetime | None = None
    night_consent: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedList:
    rows: tuple[ContactRow, ...]
    rejected: tuple[Rejected, ...]
    sha256: str
    columns: tuple[str, ...]
    """The custom fields, in the file's order."""


@functools.cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country code -> its zones, from the system's tzdata (zone.tab)."""
    out: dict[str, list[str]] = {}
    for folder in (Path("/usr/share/zoneinfo"), Path("/usr/lib/python3/dist-packages/tzdata")):
        table = folder / "zone.tab"
        if table.is_file():
            for text in table.read_text(encoding="utf-8").splitlines():
                if text and not text.startswith("#"):
                    parts = text.split("\t")
                    out.setdefault(parts[0], []).append(parts[2])
            break
    return {code: tuple(zones) for code, zones in out.items()}


def zone_for(number: str, region: str, campaign: CampaignConfig) -> tuple[str | None, str]:
    """(zone, "") or (None, why): a region (KR, US-NY) first, else the number's prefix in the
    campaign's `timezones`, else its `timezone`."""
    if region:
        code = region.strip().upper()
        if code.startswith("US-") and code[3:] in US_STATE_ZONES:
            return US_STATE_ZONES[code[3:]], ""
        zones = _country_zones().get(code, ())
        if len(zones) == 1:
            return zones[0], ""
        if zones:
            return None, (f"region {region!r} has {len(zones)} time zones; give a timezone "
                          "column or a region such as US-NY")
        return None, f"unknown region {region!r} (an ISO country code such as KR, or US-NY)"
    return zone_by_prefix(number, campaign.timezones, campaign.timezone), ""


def _column(header: str) -> str:
    name = re.sub(r"\s+", "_", header.strip().lower())
    return _ALIASES.get(name, name)


def _number(text: str) -> tuple[str, str]:
    """(number, "") or ("", why)."""
    raw = _PUNCTUATION.sub("", text)
    if not raw:
        return "", "no number"
    if not re.fullmatch(r"\+?[0-9]+", raw):
        return "", f"{text.strip()!r} is not a phone number"
    digits = len(raw.lstrip("+"))
    if digits > 15:
        return "", f"{text.strip()!r} has {digits} digits; a number has at most 15 (E.164)"
    if not valid_number(raw):
        return "", f"{text.strip()!r} is too short to dial"
    return raw, ""


def _consent(text: str) -> tuple[dt.datetime | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None, f"consent_at {text!r} is not a date or time (YYYY-MM-DD[THH:MM])"
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)), ""


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    first = sample.splitlines()[0] if sample else ""
    if "," not in first:
        for delimiter in (";", "\t"):
            if delimiter in first:
                class Custom(csv.excel):
                    pass
                Custom.delimiter = delimiter
                return Custom
    return csv.excel


def parse_contacts(data: bytes | str, campaign: CampaignConfig,
                   languages: Collection[str] = ()) -> ParsedList:
    """Every row of the file, good or refused. `languages` (empty: any) the prompts have."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContactListError(f"the file is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text[:4096]))
    try:
        header = next(reader)
    except StopIteration:
        raise ContactListError("the file is empty; it needs a header line with 'number'")\
            from None
    except csv.Error as exc:
        raise ContactListError(f"line 1: {exc}") from None
    columns = [_column(h) for h in header]
    if "number" not in columns:
        raise ContactListError(f"line 1: no 'number' column (columns: {', '.join(header)})")
    bad = [h for h, c in zip(header, columns, strict=True) if not _FIELD.fullmatch(c)]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if bad or repeated:
        raise ContactListError("line 1: " + "; ".join(
            [f"column {h!r} is not a field name (letters, digits, _)" for h in bad]
            + [f"column {c!r} is given twice" for c in repeated]))
    custom = tuple(c for c in columns if c not in _KNOWN)
    rows: list[ContactRow] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if len(rows) + len(rejected) >= MAX_ROWS:
                raise ContactListError(f"more than {MAX_ROWS} rows; split the file")
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                rejected.append(Rejected(line, f"{len(cells)} cells; the header has "
                                               f"{len(columns)}"))
                continue
            if any(len(c) > MAX_CELL for c in cells):
                rejected.append(Rejected(line, f"a cell is longer than {MAX_CELL} characters"))
                continue
            row = dict(zip(columns, (c.strip() for c in cells), strict=True))
            result = _row(line, row, campaign, languages, custom, seen)
            if isinstance(result, Rejected):
                rejected.append(result)
            else:
                seen[result.number] = line
                rows.append(result)
    except csv.Error as exc:
        raise ContactListError(f"line {reader.line_num}: {exc}") from None
    return ParsedList(tuple(rows), tuple(rejected), hashlib.sha256(raw).hexdigest(), custom)


def _row(line: int, row: dict[str, str], campaign: CampaignConfig, languages: Collection[str],
         custom: tuple[str, ...], seen: dict[str, int]) -> ContactRow | Rejected:
    number, why = _number(row["number"])
    if why:
        return Rejected(line, why)
    if number in seen:
        return Rejected(line, f"{number} is a duplicate of line {seen[number]}")
    zone = row.get("timezone", "")
    if zone:
        if not valid_timezone(zone):
            return Rejected(line, f"unknown time zone {zone!r} (an IANA name such as "
                                  "Asia/Seoul)")
    else:
        found, why = zone_for(number, row.get("region", ""), campaign)
        if found is None:
            return Rejected(line, why)
        zone = found
    language = row.get("language", "").lower()
    if language and languages and language not in languages:
        return Rejected(line, f"language {language!r} has no prompts (one of "
                              f"{', '.join(sorted(languages))})")
    consent, why = _consent(row.get("consent_at", ""))
    if why:
        return Rejected(line, why)
    night = row.get("night_consent", "").lower()
    if night not in _TRUE | _FALSE:
        return Rejected(line, f"night_consent {night!r} must be yes or no")
    return ContactRow(line, number, zone, language, row.get("name", ""),
                      {c: row[c] for c in custom}, consent, night in _TRUE)
