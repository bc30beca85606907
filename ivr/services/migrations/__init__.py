"""The schema as numbered SQL files per dialect, kept in the repo: `<dialect>/NNNN_name.sql`.

Both dialects carry the same numbers and the same logical schema (only the spelling of types
such as auto-increment keys differs). `Database.migrate()` applies the pending ones in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The migrations for `dialect` ('sqlite' or 'postgresql'), in order."""
    found: list[Migration] = []
    for entry in (resources.files(__name__) / dialect).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise ValueError(f"two {dialect} migrations share a number")
    return found
