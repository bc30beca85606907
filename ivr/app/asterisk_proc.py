"""Small process and HTTP probes for the Asterisk lifecycle (kept apart to keep files short)."""

from __future__ import annotations

import base64
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path


def alive(pid: int) -> bool:
    """Running and not a zombie (Asterisk is not our child; nobody may have reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> list[bytes]:
    """A process's arguments from /proc ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def ports_busy(host: str = "127.0.0.1", http: int = 8088, sip: int = 5060) -> list[str]:
    """Our ports already taken by someone else (another Asterisk?) would make `up` lie."""
    busy = []
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex((host, http)) == 0:
            busy.append(f"tcp {host}:{http}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.bind((host, sip))
        except OSError:
            busy.append(f"udp {host}:{sip}")
    return busy


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not readable)"


def ari_get(base_url: str, path: str, username: str, password: str, timeout: float = 2.0
            ) -> tuple[int, bytes]:
    """GET an ARI resource with basic auth: (status, body); status 0 when nothing answers."""
    req = urllib.request.Request(f"{base_url}/ari/{path.lstrip('/')}")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""
