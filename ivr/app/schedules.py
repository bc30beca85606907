"""Jobs the app runs on a clock (retention and purges), each in a task of its own.

A job that fails is logged and tried again at its next turn: a database that is down for an
hour must not stop the purges for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..services.voicemail.store import MessageStore

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    every: float
    """Seconds between runs; the first run is at start."""
    job: Job


async def run_schedule(schedule: Schedule) -> None:
    while True:
        try:
            await schedule.job()
        except Exception:
            log.exception("%s failed; tried again in %g s", schedule.name, schedule.every)
        await asyncio.sleep(schedule.every)


def voicemail_retention(messages: MessageStore, days: float) -> Schedule | None:
    """Old messages go, hourly (IVR_VOICEMAIL_RETENTION_DAYS; 0 keeps them: no schedule)."""
    if days <= 0:
        return None

    async def purge() -> None:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        removed = await messages.delete_older_than(cutoff)
        if removed:
            log.info("voicemail retention: %d message(s) older than %g days removed",
                     removed, days)

    return Schedule("voicemail retention", 3600.0, purge)
