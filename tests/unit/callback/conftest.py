"""The callback service tests' `env`: the service on the ACD's fakes (service_env.py), the
ACD started, every playback finishing at once; stopped at the end, with any caller still
waiting in a queue hung up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.services.callback.service import Callbacks
from ivr.services.callback.store import CallbackStore

from ..acd.fakes import FakeClock, finish_playbacks, rig
from .service_env import DIAL, NOW, QUEUES, Env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with rig(tmp_path, QUEUES, clock=FakeClock(NOW.timestamp())) as r:
        played = finish_playbacks(r)
        await r.acd.start()
        store = CallbackStore(r.db)
        svc = Callbacks(r.client, r.acd, store, dial=DIAL, clock=r.clock)
        it = Env(r, svc, store, played)
        try:
            yield it
        finally:
            await svc.stop()
            for task in it.calls:
                task.cancel()
            await asyncio.gather(*it.calls, return_exceptions=True)
