"""The app under test as the end-to-end tests see it: `ivr serve` in a process of its own,
reached over its HTTP API, with its traces, log and database in a folder of the test session.

The fixtures in conftest.py start it; test modules and tests/e2e/helpers.py import the types
from here, since a conftest is pytest's to load, not a module to import.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.app import asterisk, asterisk_instance
from ivr.app.paths import project_root
from ivr.testing.ports import softphone_sip_port


def sip_port() -> int:
    """A SIP port for a test's own phone that the test must know before the phone starts: out
    of the port plan's range for this worker's Asterisk instance (ivr/testing/ports.py), where
    nothing else takes ports (the kernel hands out free_port's to any socket meanwhile)."""
    return softphone_sip_port(asterisk_instance.current().number)


def free_port() -> int:
    """A TCP port nothing listens on now, for the app's HTTP server or a closed endpoint."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    base_url: str
    trace_dir: Path
    log_file: Path
    runtime: asterisk.AsteriskRuntime
    flows_dir: Path = Path()
    """The app's own copy of flows/, which tests may edit (hot reload)."""
    restart: Callable[..., None] | None = None
    """restart(extra_env=None): kill the app (SIGKILL, no goodbye), start a new one on the same
    port, trace folder and database, with `extra_env` added to its environment."""
    token: str = field(default="", repr=False)
    """An admin's API token (`ivr user token`), sent with every request below."""

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def open(self, path: str, method: str = "GET", body: bytes | None = None,
             content_type: str = "application/json") -> Any:
        """urlopen of `path` with the token (HTTPError for a 4xx or 5xx, as urlopen does)."""
        request = urllib.request.Request(self.base_url + path, method=method, data=body,
                                         headers=self.headers(**{"Content-Type": content_type}))
        return urllib.request.urlopen(request, timeout=5)

    def get(self, path: str) -> Any:
        try:
            with self.open(path) as resp:
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

    def trace_for_caller(self, caller: str, timeout: float = 10.0,
                         since: float | None = None) -> list[dict[str, Any]]:
        """The saved trace of the call whose caller id is `caller` (written at call end).
        `since` (a time.time()): only a trace written after it, for a caller id that other
        tests on the same app use too (the demo account's caller ID)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for file in self.trace_dir.glob("*.jsonl"):
                if since is not None and file.stat().st_mtime < since:
                    continue
                entries = [json.loads(line) for line in file.read_text().splitlines() if line]
                if entries and entries[0].get("caller") == caller:
                    return entries
            time.sleep(0.1)
        tail = "\n".join(self.log_lines()[-40:])
        raise AssertionError(f"no trace for caller {caller} in {self.trace_dir}; "
                             f"the app's log ends with:\n{tail}")

    def database(self) -> Path:
        return self.flows_dir.parent / "ivr.db"

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


@dataclass
class AppProcess:
    """`ivr serve` in a process of its own, logging JSON lines to a file."""

    proc: subprocess.Popen[bytes]
    app: RunningApp

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def admin_token(work: Path, database: str) -> str:
    """An admin user and its API token in the app's database, made once per folder with the
    `ivr user` commands an operator would use (a restarted app keeps its database and token)."""
    saved = work / "admin.token"
    if not saved.exists():
        cli = [sys.executable, "-m", "ivr.app.cli", "user"]
        subprocess.run([*cli, "add", "e2e-admin", "--role", "admin", "--password", "-",
                        "--url", database], input="e2e admin password", text=True,
                       check=True, capture_output=True)
        made = subprocess.run([*cli, "token", "e2e-admin", "--label", "e2e", "--url", database],
                              text=True, check=True, capture_output=True)
        saved.write_text(made.stdout.strip())
    return saved.read_text().strip()


def start_app(runtime: asterisk.AsteriskRuntime, work: Path, port: int | None = None,
              trace_dir: Path | None = None, extra_env: dict[str, str] | None = None
              ) -> AppProcess:
    """Serve a copy of flows/ from `work`, so a test may edit flows while the app runs, with
    its own SQLite database holding the demo accounts (`ivr db init --demo`)."""
    port = port or free_port()
    trace_dir = trace_dir or work / "traces"
    flows_dir = work / "flows"
    if not flows_dir.exists():
        shutil.copytree(project_root() / "flows", flows_dir)
    database = f"sqlite:///{work / 'ivr.db'}"
    if not (work / "ivr.db").exists():
        subprocess.run([sys.executable, "-m", "ivr.app.cli", "db", "init", "--demo",
                        "--url", database], check=True, capture_output=True)
    token = admin_token(work, database)
    env = {
        **os.environ,
        "IVR_ARI_URL": runtime.ari_url,
        "IVR_ARI_USERNAME": runtime.ari_username,
        "IVR_ARI_PASSWORD": runtime.ari_password,
        "IVR_FLOWS_DIR": str(flows_dir),
        "IVR_DATABASE_URL": database,
        **(extra_env or {}),
        "IVR_TRACE_DIR": str(trace_dir),
        "IVR_VOICEMAIL_DIR": str(work / "voicemail"),
        "IVR_QUEUE_LOG": str(work / "queue_log"),
        "IVR_HTTP_PORT": str(port),
        "IVR_LOG_FORMAT": "json",
    }
    log_file = work / f"app-{port}.log"
    with open(log_file, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ivr.app.cli", "serve"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    running = AppProcess(proc, RunningApp(f"http://127.0.0.1:{port}", trace_dir, log_file,
                                          runtime, flows_dir=flows_dir, token=token))
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ivr serve exited: {log_file.read_text()[-2000:]}")
        try:
            if running.app.get("/health").get("ari_connected"):
                return running
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            running.stop(signal.SIGKILL)
            raise RuntimeError(f"ivr serve not ready: {log_file.read_text()[-2000:]}")
        time.sleep(0.2)
