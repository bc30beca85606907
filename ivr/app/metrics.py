"""Prometheus metrics (`GET /metrics`): counters fed as things happen, the rest read at scrape.

What a contact center's monitoring asks of the app: how many calls are live and how they end;
per queue, who waits and for how long; agents by state; whether ARI holds (connections made:
more than one means it reconnected); flow reloads taken and refused; speech decisions and how
long after the caller stopped talking they came; the event loop's lag (every call shares it);
the database's round trip. The live figures are read from the service when Prometheus scrapes,
so nothing is counted twice and nothing goes stale; only events (a call ended, a decision, a
lag sample) are counted as they happen. One registry per app: tests and several apps in one
process do not share numbers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..services.acd.agents import AgentState
from ..services.acd.engine import Acd
from ..services.acd.reporting import queue_view
from ..services.acd.wallboard import start_of_day


class Watched(Protocol):
    """What the metrics read of the service (Watched), named here so that the two modules
    need not import each other."""

    @property
    def calls(self) -> Mapping[str, Any]: ...
    @property
    def client(self) -> Any: ...
    @property
    def registry(self) -> Any: ...
    @property
    def ears(self) -> Any: ...
    @property
    def acd(self) -> Acd | None: ...
    @property
    def running(self) -> Any: ...

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_EVERY_S = 0.5


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, resident memory
        self.calls_ended = Counter("ivr_calls_ended", "Calls ended, by the outcome of their "
                                   "record", ["outcome"], registry=self.registry)
        self.speech_decisions = Counter(
            "ivr_speech_decisions", "What the speech recognizer decided, per engine: accepted, "
            "rejected (below the confidence) or no_match", ["engine", "result"],
            registry=self.registry)
        self.speech_latency = Histogram(
            "ivr_speech_decision_seconds", "From the end of the caller's speech to the "
            "recognizer's decision", registry=self.registry,
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0))
        self.loop_lag = Histogram(
            "ivr_event_loop_lag_seconds", f"How late a {LAG_EVERY_S} s timer fires: what every "
            "call waits for when the loop is busy", registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0))
        self.db_latency = Histogram(
            "ivr_database_seconds", "Round trip of a probe query, at each scrape",
            registry=self.registry, buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0))

    def watch(self, service: Watched) -> None:
        """Read the live figures from `service` at each scrape."""
        self.registry.register(_Live(service))

    def call_ended(self, outcome: str | None) -> None:
        self.calls_ended.labels(outcome or "unknown").inc()

    def speech_decided(self, engine: str, result: str, decided_s: float | None) -> None:
        self.speech_decisions.labels(engine or "none", result).inc()
        if decided_s is not None:
            self.speech_latency.observe(decided_s)

    async def sample_loop_lag(self) -> None:
        """Forever: sleep LAG_EVERY_S and record how much later than asked the loop woke."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(LAG_EVERY_S)
            self.loop_lag.observe(max(0.0, loop.time() - asked - LAG_EVERY_S))

    async def probe_database(self, service: Watched) -> None:
        running = service.running
        if running is None:
            return
        began = time.perf_counter()
        try:
            await asyncio.wait_for(running.db.fetch_value("SELECT 1 AS one"), 5.0)
        except Exception:
            return
        self.db_latency.observe(time.perf_counter() - began)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """Gauges and counters that the service already keeps, read when Prometheus asks."""

    def __init__(self, service: Watched) -> None:
        self.service = service

    def describe(self) -> list[Metric]:
        return []  # collected on demand only: nothing to describe ahead

    def collect(self) -> Iterator[Metric]:
        service = self.service
        calls = GaugeMetricFamily("ivr_calls_active", "Live calls, by where the caller is",
                                  labels=["place"])
        places: dict[str, int] = {}
        for call in service.calls.values():
            places[call.place.kind.value] = places.get(call.place.kind.value, 0) + 1
        for place, count in sorted(places.items()):
            calls.add_metric([place], count)
        yield calls
        yield GaugeMetricFamily("ivr_ari_connected", "1 while the ARI event WebSocket is up",
                                value=1 if service.client.connected.is_set() else 0)
        yield CounterMetricFamily("ivr_ari_connections", "ARI connections made (more than one: "
                                  "it reconnected)", value=service.client.connections)
        reloads = CounterMetricFamily("ivr_flow_reloads", "Flow edits taken live, and refused "
                                      "(the last good version kept serving)", labels=["result"])
        reloads.add_metric(["taken"], service.registry.reloads)
        reloads.add_metric(["refused"], service.registry.refused)
        yield reloads
        engines = GaugeMetricFamily("ivr_speech_engine_ready", "1 for an engine loaded and "
                                    "ready, per language/engine", labels=["engine"])
        for name, state in service.ears.status().items():
            engines.add_metric([name], 1 if state == "ready" else 0)
        yield engines
        yield from _acd_metrics(service)


def _acd_metrics(service: Watched) -> Iterator[Metric]:
    acd = service.acd
    if acd is None:
        return
    today = acd.intervals.summary(start_of_day(time.time()))
    level = GaugeMetricFamily("ivr_queue_service_level", "Today's service level (answered "
                              "within the queue's target, of the calls offered), per queue",
                              labels=["queue"])
    waiting = GaugeMetricFamily("ivr_queue_waiting", "Callers waiting, per queue",
                                labels=["queue"])
    longest = GaugeMetricFamily("ivr_queue_longest_wait_seconds", "The longest wait now, "
                                "per queue", labels=["queue"])
    for queue in acd.config().queues.values():
        view = queue_view(acd, queue)
        waiting.add_metric([queue.name], len(view["waiting"]))
        longest.add_metric([queue.name], view["longest_wait_s"])
        value = today.get(queue.name, {}).get("service_level")
        if value is not None:
            level.add_metric([queue.name], float(value))
    yield waiting
    yield longest
    yield level
    agents = GaugeMetricFamily("ivr_agents", "Agents, by state", labels=["state"])
    for state in AgentState:
        agents.add_metric([state.value], sum(1 for a in acd.agents.values() if a.state is state))
    yield agents
