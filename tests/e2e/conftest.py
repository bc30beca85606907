"""End-to-end fixtures: a real Asterisk 22 (provisioned by the project) and the real app.

Nothing here is faked: Asterisk is brought up with `ivr.app.asterisk.up()` (bootstrapping it
when the machine has none), the app runs as `ivr serve` in its own process, and calls come from
the pjsua2 softphone in processes of their own.

Under pytest-xdist (`make test` runs the suite with `-n`), each worker has an Asterisk instance
of its own (ivr/app/asterisk_instance.py: worker gwN drives instance N+1 on 127.0.0.(N+2);
instance 0 is left to the developer) and its own app, so the modules of different workers never
see each other's calls. The worker's instance is put in its environment here, before any
fixture runs: `ivr.app.asterisk` reads it, and so do the app and the softphone processes
started from this one (`IVR_SIP_HOST`). The unit tests' conftest takes both out again for
every unit test the worker runs.

The ACD modules (test_acd_*.py) share `acd`: the app with their queues loaded for the module,
and `acd_agents_logged_out`, which they use for every test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from ivr.app import asterisk
from ivr.app import asterisk_instance as instances
from ivr.testing.phonespec import SIP_HOST_ENV

from .acd_queues import QUEUES as ACD_QUEUES
from .helpers import cancel_active_callbacks, post, wait_for
from .running_app import RunningApp, start_app

pytestmark = pytest.mark.e2e

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:  # this worker's own Asterisk; outside xdist, IVR_ASTERISK_INSTANCE (0 when unset)
    os.environ[instances.ENV] = str(instances.for_worker(_WORKER).number)
os.environ[SIP_HOST_ENV] = instances.current().host


SLOWEST_FIRST = ("test_scenarios_bank.py", "test_voicemail_call.py", "test_acd_wait_call.py",
                 "test_callback_call.py", "test_scenarios.py", "test_speech_bank_call.py")
"""The modules that take longest, by the durations of a parallel run (README: Tests). Handed to
the workers first, so that no long module starts last and runs alone while the others idle."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest end-to-end modules first; everything else keeps its order (a stable sort).
    Only the order in which --dist loadfile gives modules to workers changes: each module's
    own tests still run in their written order."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def asterisk_runtime() -> Iterator[asterisk.AsteriskRuntime]:
    was_running = bool(asterisk.status().get("running"))
    runtime = asterisk.up()
    yield runtime
    if not was_running:
        asterisk.down()


@pytest.fixture(scope="session")
def ivr_app(
    asterisk_runtime: asterisk.AsteriskRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("app")
    running = start_app(asterisk_runtime, work)
    port = int(running.app.base_url.rpartition(":")[2])

    def restart(extra_env: dict[str, str] | None = None) -> None:
        nonlocal running
        running.stop(signal.SIGKILL)
        running = start_app(asterisk_runtime, work, port, running.app.trace_dir, extra_env)
        app.log_file = running.app.log_file

    app = running.app
    app.restart = restart
    try:
        yield app
    finally:
        running.stop()


@pytest.fixture(scope="module")
def acd(ivr_app: RunningApp) -> Iterator[RunningApp]:
    """The app with the ACD modules' queues (acd_queues.py) loaded, for one module;
    afterwards agents logged out and the demo file back (and reloaded)."""
    original = (ivr_app.flows_dir / "queues.yaml").read_text()
    reloads = ivr_app.get("/health")["flows"]["reloads"]
    (ivr_app.flows_dir / "queues.yaml").write_text(ACD_QUEUES)
    deadline = time.monotonic() + 10
    while ivr_app.get("/health")["flows"]["reloads"] == reloads:
        assert time.monotonic() < deadline, "queues.yaml edit not reloaded"
        time.sleep(0.2)
    try:
        yield ivr_app
    finally:
        for agent in ("agent1001", "agent1002"):
            post(ivr_app, f"/agents/{agent}/logout")
        reloads = ivr_app.get("/health")["flows"]["reloads"]
        (ivr_app.flows_dir / "queues.yaml").write_text(original)
        # Reloaded before the next module: the next `acd` must not take this reload for its own.
        wait_for(lambda: ivr_app.get("/health")["flows"]["reloads"] != reloads, 10,
                 "queues.yaml not restored")


@pytest.fixture
def acd_agents_logged_out(acd: RunningApp) -> Iterator[None]:
    """Each test of an ACD module (its `usefixtures`) starts and ends with no agent logged in
    and no callback waiting for one: a message left in a queue's voicemail (here, or by another
    module's test) is a callback of that queue, which would ring the next test's agent."""
    cancel_active_callbacks(acd)
    yield
    for agent in ("agent1001", "agent1002"):
        post(acd, f"/agents/{agent}/logout")
    cancel_active_callbacks(acd)
    wait_for(lambda: all(a["state"] == "logged_out" for a in acd.get("/agents")), 15,
             "agents not logged out after the test")
