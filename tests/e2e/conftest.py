"""End-to-end fixtures: a real Asterisk 22 (provisioned by the project) and the real app.

Nothing here is faked: Asterisk is brought up with `ivr.app.asterisk.up()` (bootstrapping it
when the machine has none), the app runs as `ivr serve` in its own process, and calls come from
the pjsua2 softphone in processes of their own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ivr.app import asterisk
from ivr.app.paths import project_root

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def asterisk_runtime() -> Iterator[asterisk.AsteriskRuntime]:
    was_running = bool(asterisk.status().get("running"))
    runtime = asterisk.up()
    yield runtime
    if not was_running:
        asterisk.down()


@dataclass
class RunningApp:
    base_url: str
    trace_dir: Path
    log_file: Path
    runtime: asterisk.AsteriskRuntime

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"null")

    def ari(self, path: str) -> Any:
        """Ask Asterisk itself, to check what the app left behind."""
        request = urllib.request.Request(self.runtime.ari_url.rstrip("/") + "/ari" + path)
        import base64

        token = base64.b64encode(
            f"{self.runtime.ari_username}:{self.runtime.ari_password}".encode()
        ).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read())

    def trace_for_caller(self, caller: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The saved trace of the call whose caller id is `caller` (written at call end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for file in self.trace_dir.glob("*.jsonl"):
                entries = [json.loads(line) for line in file.read_text().splitlines() if line]
                if entries and entries[0].get("caller") == caller:
                    return entries
            time.sleep(0.1)
        raise AssertionError(f"no trace for caller {caller} in {self.trace_dir}")

    def log_lines(self) -> list[str]:
        return self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()

    def wait_idle(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the app holds no call, task or subscription; return the last status."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.get("/health")
            if not status["active_calls"] and not status["call_tasks"] \
                    and not status["subscriptions"]:
                return status
            time.sleep(0.1)
        return status


@pytest.fixture(scope="session")
def ivr_app(
    asterisk_runtime: asterisk.AsteriskRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("app")
    port = _free_port()
    env = {
        **os.environ,
        "IVR_ARI_URL": asterisk_runtime.ari_url,
        "IVR_ARI_USERNAME": asterisk_runtime.ari_username,
        "IVR_ARI_PASSWORD": asterisk_runtime.ari_password,
        "IVR_FLOW": str(project_root() / "flows" / "demo.yaml"),
        "IVR_TRACE_DIR": str(work / "traces"),
        "IVR_HTTP_PORT": str(port),
        "IVR_LOG_FORMAT": "json",
    }
    log_file = work / "app.log"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ivr.app.cli", "serve"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}", work / "traces", log_file, asterisk_runtime)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ivr serve exited: {log_file.read_text()[-2000:]}")
            try:
                if app.get("/health").get("ari_connected"):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"ivr serve not ready: {log_file.read_text()[-2000:]}")
            time.sleep(0.2)
        yield app
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
