"""The Prometheus metrics (ivr/app/metrics.py): what is counted as it happens, what is read from
the service at each scrape, in Prometheus' own text format (parsed back with its parser)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivr.app.metrics import Metrics
from ivr.app.service import IvrService
from ivr.ari import AriClient
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.store import AcdStore
from ivr.services.db import connect
from ivr.services.place import PlaceKind

ROOT = Path(__file__).resolve().parents[2]


class NoAri:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ACD used the ARI client ({name})")


@dataclass
class Client:
    connections: int = 3
    connected: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Registry:
    reloads: int = 2
    refused: int = 1


@dataclass
class Ears:
    def status(self) -> dict[str, str]:
        return {"en/pocketsphinx": "ready", "ko/vosk": "unavailable: no model"}


@dataclass
class Place:
    kind: PlaceKind


@dataclass
class LiveCall:
    place: Place


@dataclass
class StandIn:
    acd: Acd | None
    client: Client = field(default_factory=Client)
    registry: Registry = field(default_factory=Registry)
    ears: Ears = field(default_factory=Ears)
    calls: dict[str, LiveCall] = field(default_factory=dict)
    running: None = None


@pytest.fixture
async def acd(tmp_path: Path) -> AsyncIterator[Acd]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config("agents:\n  a1: {name: Ann, endpoint: PJSIP/a1}\n"
                              "  a2: {name: Bob, endpoint: PJSIP/a2}\n"
                              "queues:\n  general: {members: [a1, a2]}\n")
    engine = Acd(cast(AriClient, NoAri()), AcdStore(db), lambda: config,
                 PromptLibrary(ROOT / "prompts"))
    engine.sync_agents()
    yield engine
    await engine.stop()
    await db.close()


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_live_figures_are_read_at_each_scrape(acd: Acd) -> None:
    service = StandIn(acd)
    metrics = Metrics()
    metrics.watch(cast(IvrService, service))
    service.calls = {"c1": LiveCall(Place(PlaceKind.IN_FLOW)),
                     "c2": LiveCall(Place(PlaceKind.IN_FLOW)),
                     "c3": LiveCall(Place(PlaceKind.IN_QUEUE))}
    service.client.connected.set()
    await acd.login("a1")
    got = samples(metrics)
    assert got[("ivr_calls_active", (("place", "in_flow"),))] == 2
    assert got[("ivr_calls_active", (("place", "in_queue"),))] == 1
    assert got[("ivr_ari_connected", ())] == 1
    assert got[("ivr_ari_connections_total", ())] == 3
    assert got[("ivr_flow_reloads_total", (("result", "refused"),))] == 1
    assert got[("ivr_speech_engine_ready", (("engine", "en/pocketsphinx"),))] == 1
    assert got[("ivr_speech_engine_ready", (("engine", "ko/vosk"),))] == 0
    assert got[("ivr_agents", (("state", "available"),))] == 1
    assert got[("ivr_agents", (("state", "logged_out"),))] == 1
    assert got[("ivr_queue_waiting", (("queue", "general"),))] == 0
    assert got[("process_resident_memory_bytes", ())] > 10e6
    assert not [k for k in got if k[0] == "ivr_queue_service_level"]  # no call yet today
    await acd.log(acd.event("c1", "general", "NONE", "ENTERQUEUE", "", "555"),
                  acd.event("c1", "general", "PJSIP/a1", "CONNECT", "3", "x", "1"))
    assert samples(metrics)[("ivr_queue_service_level", (("queue", "general"),))] == 1.0
    service.calls.clear()
    await acd.login("a2")
    again = samples(metrics)
    assert ("ivr_calls_active", (("place", "in_flow"),)) not in again
    assert again[("ivr_agents", (("state", "available"),))] == 2


async def test_events_are_counted_as_they_happen() -> None:
    metrics = Metrics()
    metrics.call_ended("answered")
    metrics.call_ended("answered")
    metrics.call_ended(None)
    metrics.speech_decided("pocketsphinx", "accepted", 0.12)
    metrics.speech_decided("pocketsphinx", "no_match", None)
    got = samples(metrics)
    assert got[("ivr_calls_ended_total", (("outcome", "answered"),))] == 2
    assert got[("ivr_calls_ended_total", (("outcome", "unknown"),))] == 1
    assert got[("ivr_speech_decisions_total",
                (("engine", "pocketsphinx"), ("result", "accepted")))] == 1
    assert got[("ivr_speech_decision_seconds_count", ())] == 1
    assert got[("ivr_speech_decision_seconds_sum", ())] == pytest.approx(0.12)


async def test_the_loop_lag_sees_a_blocked_loop() -> None:
    metrics = Metrics()
    sampler = asyncio.create_task(metrics.sample_loop_lag())
    await asyncio.sleep(0.1)
    time.sleep(0.6)  # noqa: ASYNC251 (on purpose: the loop blocked past the 0.5 s timer)
    await asyncio.sleep(0.6)
    sampler.cancel()
    got = samples(metrics)
    assert got[("ivr_event_loop_lag_seconds_count", ())] >= 1
    assert got[("ivr_event_loop_lag_seconds_sum", ())] >= 0.15
