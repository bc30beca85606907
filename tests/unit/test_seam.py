"""The hand-off registry and the schedules the app runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.app.schedules import Schedule, run_schedule
from ivr.flow.types import DECLINED, HandoffKind, HandoffRequest, HandoffResult
from ivr.services.seam import CallerLeg, handoffs


class Declines:
    def __init__(self, kind: HandoffKind) -> None:
        self.kind = kind

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        return DECLINED

    def call_ended(self, call_id: str) -> None:
        pass


def test_the_registry_has_one_service_per_kind() -> None:
    registry = handoffs(Declines(HandoffKind.QUEUE), Declines(HandoffKind.VOICEMAIL))
    assert sorted(registry) == [HandoffKind.QUEUE, HandoffKind.VOICEMAIL]
    with pytest.raises(ValueError, match="two services take queue"):
        handoffs(Declines(HandoffKind.QUEUE), Declines(HandoffKind.QUEUE))


def test_a_request_reads_numeric_options() -> None:
    request = HandoffRequest(HandoffKind.QUEUE, "general", "q", "bank",
                             options={"priority": "5", "max_wait": "", "x": "1.5"})
    assert (request.number("priority"), request.number("max_wait"),
            request.number("x"), request.number("absent")) == (5.0, None, 1.5, None)


async def test_a_failing_job_is_logged_and_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("database down")
        if len(runs) == 3:
            third.set()

    with caplog.at_level(logging.ERROR, logger="ivr.app.schedules"):
        task = asyncio.create_task(run_schedule(Schedule("purge", 0.01, job)))
        await asyncio.wait_for(third.wait(), 2.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "purge failed; tried again in 0.01 s" in caplog.text
