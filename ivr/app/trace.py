"""Per-call trace: what was played, pressed and decided, in order, for people and tests.

Kept in memory during the call (the event path never touches the disk) and written as JSON
lines to `<trace_dir>/<call_id>.jsonl` when the call ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("ivr.trace")


class CallTrace:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.started = time.monotonic()
        self.started_at = dt.datetime.now(dt.UTC)
        """Wall clock at the start; entry times are offsets from it (monotonic, no jumps)."""
        self.entries: list[dict[str, Any]] = []

    def add(self, event: str, **fields: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 3), "event": event, **fields}
        self.entries.append(entry)
        log.info(event, extra={"fields": fields})

    def at(self, entry: dict[str, Any]) -> dt.datetime:
        return self.started_at + dt.timedelta(seconds=float(entry["t"]))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["event"] == name]

    async def save(self, folder: Path) -> Path:
        path = folder / f"{self.call_id}.jsonl"
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.entries)

        def write() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)

        await asyncio.to_thread(write)
        return path
