"""The app as bench/load.py runs it: `ivr serve` in its own process, on a copy of flows/ with
the keys-only variant of the demo menu added.

Like tests/e2e/running_app.py (which the lead's end-to-end fixtures own), in a few lines of its
own, so that the benchmark does not depend on a test module: its own folder, database, traces
and log, and the ARI credentials of the project's Asterisk.
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
from dataclasses import dataclass
from pathlib import Path

import yaml

from ivr.app import asterisk
from ivr.app.paths import project_root

KEYS_ONLY_FLOW = "demo-keys"
"""The flow extension 902 enters: flows/demo.yaml without speech."""


def keys_only_flow(demo: Path) -> str:
    """flows/demo.yaml with every trace of listening removed (the flow-level `speech`, the
    options' phrases, the menu's confidence), named KEYS_ONLY_FLOW: the same menu and prompts,
    so only the listening differs."""
    flow = yaml.safe_load(demo.read_text())
    flow["name"] = KEYS_ONLY_FLOW
    flow.pop("speech", None)
    for node in flow["nodes"].values():
        node.pop("confidence", None)
        for option in (node.get("options") or {}).values():
            if isinstance(option, dict):
                option.pop("phrases", None)
    return "# Written by bench/load.py from demo.yaml: the same menu, keys only.\n" + \
        yaml.safe_dump(flow, sort_keys=False)


@dataclass
class BenchApp:
    proc: subprocess.Popen[bytes]
    url: str
    log_file: Path

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(self.url + "/health", timeout=5) as resp:
            data = json.loads(resp.read())
        return data if isinstance(data, dict) else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_app(runtime: asterisk.AsteriskRuntime, work: Path,
              extra_env: dict[str, str] | None = None) -> BenchApp:
    """Serve a copy of flows/ (plus the keys-only flow) from `work`; wait until ARI is up."""
    flows = work / "flows"
    if flows.exists():
        shutil.rmtree(flows)
    shutil.copytree(project_root() / "flows", flows)
    (flows / f"{KEYS_ONLY_FLOW}.yaml").write_text(keys_only_flow(flows / "demo.yaml"))
    database = f"sqlite:///{work / 'ivr.db'}"
    subprocess.run([sys.executable, "-m", "ivr.app.cli", "db", "init", "--demo", "--url",
                    database], check=True, capture_output=True)
    port = _free_port()
    env = {**os.environ, "IVR_ARI_URL": runtime.ari_url,
           "IVR_ARI_USERNAME": runtime.ari_username, "IVR_ARI_PASSWORD": runtime.ari_password,
           "IVR_FLOWS_DIR": str(flows), "IVR_DATABASE_URL": database,
           "IVR_TRACE_DIR": str(work / "traces"), "IVR_VOICEMAIL_DIR": str(work / "voicemail"),
           "IVR_QUEUE_LOG": str(work / "queue_log"), "IVR_HTTP_PORT": str(port),
           "IVR_LOG_FORMAT": "json", **(extra_env or {})}
    log_file = work / "app.log"
    with open(log_file, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ivr.app.cli", "serve"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    app = BenchApp(proc, f"http://127.0.0.1:{port}", log_file)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ivr serve exited: {log_file.read_text()[-2000:]}")
        try:
            if app.health().get("ari_connected"):
                return app
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.3)
    app.stop()
    raise RuntimeError(f"ivr serve not ready: {log_file.read_text()[-2000:]}")
