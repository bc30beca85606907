"""End-to-end fixtures: a real Asterisk 22 (provisioned by the project) and the real app.

Nothing here is faked: Asterisk is brought up with `ivr.app.asterisk.up()` (bootstrapping it
when the machine has none), the app runs as `ivr serve` in its own process, and calls come from
the pjsua2 softphone in processes of their own.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from ivr.app import asterisk

from .running_app import RunningApp, start_app

pytestmark = pytest.mark.e2e


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
