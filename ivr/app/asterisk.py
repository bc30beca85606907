"""Provision and run the real Asterisk 22 that ivr drives over ARI (`ivr asterisk up|down|...`).

Two modes. "host": an `asterisk` on PATH runs with a generated asterisk.conf whose writable dirs
are in the state dir. "chroot": a cached Debian sid root (see asterisk_root) runs Asterisk 22
chrooted, as the unprivileged asterisk user, in its own session so it outlives the CLI.
Either way Asterisk sees exactly the project's asterisk-conf/ plus generated secrets.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ivr.app import asterisk_conf as conf
from ivr.app import asterisk_instance as instances
from ivr.app import asterisk_proc as proc
from ivr.app import asterisk_root as aroot
from ivr.app.paths import agents_env_file, ari_env_file, cache_dir, project_root, state_dir

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class AsteriskRuntime:
    """How to reach the running Asterisk (what the app and the e2e fixtures need)."""

    mode: str  # "host" (asterisk already on PATH) or "chroot"
    ari_url: str  # base URL; the client appends /ari/...
    ari_username: str
    ari_password: str = field(repr=False)  # never in logs or test output
    sip_uri_host: str
    log_file: Path  # Asterisk's "full" log, for tests to grep


@dataclass(frozen=True)
class _Layout:
    """Where one mode keeps things and how it runs the asterisk binary."""

    mode: str
    instance: instances.Instance
    root: Path | None  # the chroot, None in host mode
    etc_dir: Path
    log_file: Path
    base_cmd: tuple[str, ...]  # asterisk [-C conf], run inside the chroot when there is one

    def command(self, *args: str) -> list[str]:
        prefix = ["chroot", str(self.root)] if self.root else []
        return [*prefix, *self.base_cmd, *args]


def root_dir() -> Path:
    """The cached Debian root (outside the clone, so a fresh CI clone reuses it)."""
    return cache_dir() / "asterisk-root"


def _layout() -> _Layout:
    """Where this process's instance (IVR_ASTERISK_INSTANCE, asterisk_instance) lives."""
    inst = instances.current()
    mode = os.environ.get("IVR_ASTERISK_MODE") or ("host" if shutil.which("asterisk") else "chroot")
    if mode == "host":
        binary = shutil.which("asterisk")
        if not binary:
            raise RuntimeError("IVR_ASTERISK_MODE=host but there is no asterisk on PATH")
        base = _host_base(inst)
        return _Layout(
            "host",
            inst,
            None,
            base / "etc",
            base / "log" / "full",
            (binary, "-C", str(base / "asterisk.conf")),
        )
    if mode != "chroot":
        raise RuntimeError(f"IVR_ASTERISK_MODE must be host or chroot, not {mode!r}")
    root = root_dir()
    dirs = inst.chroot_dirs()
    if not dirs:
        return _Layout("chroot", inst, root, root / "etc/asterisk",
                       root / "var/log/asterisk/full", ("asterisk",))
    etc = dirs["astetcdir"]
    return _Layout("chroot", inst, root, root / etc.lstrip("/"),
                   root / dirs["astlogdir"].lstrip("/") / "full",
                   ("asterisk", "-C", f"{etc}/asterisk.conf"))


def _host_base(inst: instances.Instance) -> Path:
    return state_dir() / f"asterisk{inst.suffix}"


def _state_file() -> Path:
    return state_dir() / f"asterisk{instances.current().suffix}.json"


def _read_state() -> dict[str, object]:
    try:
        data = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def _locked() -> Iterator[None]:
    """One `up`/`down` at a time per state dir (CLI and test fixtures may race)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with open(state_dir() / "asterisk.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _main_pid(lay: _Layout) -> int | None:
    """The running Asterisk daemon of this layout, checked against /proc (pids get reused)."""
    recorded = _read_state().get("pid")
    if lay.root is not None:
        pids = [p for p in aroot.pids_in_root(lay.root) if proc.alive(p)]
        if isinstance(recorded, int) and recorded in pids:
            return recorded
        for pid in pids:
            args = proc.cmdline(pid)
            if b"-f" in args and b"-rx" not in args and _is_instance(lay, args):
                return pid
        return None
    if isinstance(recorded, int) and proc.alive(recorded):
        args = proc.cmdline(recorded)
        if str(lay.base_cmd[-1]).encode() in args and b"-rx" not in args:
            return recorded
    return None


def _is_instance(lay: _Layout, args: list[bytes]) -> bool:
    """Whether a chrooted Asterisk's arguments are this layout's instance (all share a root)."""
    if "-C" not in lay.base_cmd:
        return b"-C" not in args
    return lay.base_cmd[-1].encode() in args


def _stop(lay: _Layout, pid: int) -> None:
    """Graceful `core stop now`, then SIGTERM, then SIGKILL, each given time to work."""
    try:
        subprocess.run(lay.command("-rx", "core stop now"), capture_output=True, timeout=15)
    except subprocess.TimeoutExpired:
        pass
    for sig, wait in ((None, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
        if proc.wait_gone([pid], wait):
            break
    if lay.root is not None:  # leftovers (e.g. a stuck `asterisk -rx`), by pid, never by name
        rest = [p for p in aroot.pids_in_root(lay.root) if proc.alive(p)
                and _is_instance(lay, proc.cmdline(p))]
        for p in rest:
            os.kill(p, signal.SIGKILL)
        proc.wait_gone(rest, 5.0)


def _start(lay: _Layout) -> int:
    """Start Asterisk detached (own session, reparented to init) and return its pid.

    `sh` backgrounds it and exits at once, so this process never owns a long-running child
    (no zombie, no ResourceWarning in pytest) and Asterisk outlives the CLI.
    """
    out = _stdout_log(lay)
    start = ["-f", "-U", "asterisk", "-G", "asterisk"] if lay.root else ["-f"]
    script = '"$@" </dev/null >"$0" 2>&1 & echo $!'
    res = subprocess.run(
        ["sh", "-c", script, str(out), *lay.command(*start)],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    )
    return int(res.stdout.strip())


def _stdout_log(lay: _Layout) -> Path:
    return state_dir() / f"asterisk{lay.instance.suffix}-stdout.log"


def _wait_ready(lay: _Layout, pid: int, creds: conf.Credentials) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    status = 0
    while time.monotonic() < deadline:
        if not proc.alive(pid):
            raise RuntimeError(
                f"Asterisk exited during start. {_stdout_log(lay)}:\n"
                f"{proc.tail(_stdout_log(lay))}\n{lay.log_file}:\n"
                f"{proc.tail(lay.log_file)}"
            )
        status, _ = proc.ari_get(lay.instance.ari_url, "asterisk/info", creds.ari_username,
                                 creds.ari_password)
        if status == 200:
            return
        time.sleep(0.25)
    raise RuntimeError(f"ARI did not answer 200 within {READY_TIMEOUT:.0f} s (last: {status})")


def _recording_dir(spool: Path) -> None:
    """ARI records into <spool>/recording, which Debian's package does not create (ARI then
    answers 500 to every record request); owned like the spool, so Asterisk can write it."""
    recording = spool / "recording"
    recording.mkdir(parents=True, exist_ok=True)
    owner = spool.stat()
    os.chown(recording, owner.st_uid, owner.st_gid)
    recording.chmod(0o770)


def recording_dir() -> Path:
    """The folder the project's Asterisk keeps ARI recordings in, as this machine sees it
    (the app stages messages there to play them; services/voicemail/playback.py)."""
    lay = _layout()
    if lay.root is not None:
        return instances.in_root(lay.root, instances.spool(lay.instance)) / "recording"
    return conf.host_dirs(_host_base(lay.instance))["astspooldir"] / "recording"


def _prepare(lay: _Layout, project: Path, files: dict[str, str]) -> None:
    """Put configuration, prompts and mounts in place for a (re)start."""
    prompts = project / "prompts"
    prompts.mkdir(exist_ok=True)
    if lay.log_file.exists():  # one log per run for tests to grep; the previous run is kept
        lay.log_file.replace(lay.log_file.with_name(lay.log_file.name + ".1"))
    if lay.root is not None:
        root = lay.root
        aroot.ensure_mount_proc(root / "proc")
        aroot.ensure_bind(Path("/dev"), root / "dev")
        instances.make_own_dirs(lay.instance, root)
        aroot.ensure_bind(prompts, instances.in_root(root, instances.prompts_mount(lay.instance)))
        dirs: dict[str, str | Path] = dict(lay.instance.chroot_dirs())
        files = {**files, "asterisk.conf": instances.with_directories(
            files.get("asterisk.conf", ""), dirs)}
        conf.write_tree(lay.etc_dir, files, aroot.asterisk_gid(root))
        _recording_dir(instances.in_root(root, instances.spool(lay.instance)))
        return
    host = conf.host_dirs(_host_base(lay.instance))
    for d in host.values():
        d.mkdir(parents=True, exist_ok=True)
    _recording_dir(host["astspooldir"])
    conf.link_data_dir(conf.system_data_dir(), host["astdatadir"], prompts)
    conf.write_tree(lay.etc_dir, files)
    main_conf = conf.host_asterisk_conf(host, files.get("asterisk.conf", ""))
    Path(lay.base_cmd[-1]).write_text(main_conf)


def up(project: Path | None = None) -> AsteriskRuntime:
    """Provision if needed, sync configuration, start if not running, wait for ARI.

    Idempotent: with Asterisk already running on the same configuration it only checks ARI.
    A changed configuration (or another clone's prompts) restarts Asterisk.
    """
    t0 = time.monotonic()
    project = (project or project_root()).resolve()
    with _locked():
        lay = _layout()
        if lay.root is not None and os.geteuid() != 0:
            raise RuntimeError("chroot mode needs root (mounts, chroot); or put asterisk on PATH")
        if lay.root is not None and not aroot.root_is_ready(lay.root):
            _stop_and_unmount(lay)
            aroot.bootstrap(lay.root, log=state_dir() / "debootstrap.log")
        pjsip = (project / "asterisk-conf" / "pjsip.conf").read_text()
        auths = conf.agent_auths(pjsip)
        creds = conf.load_credentials(
            ari_env_file(), agents_env_file(), sorted(set(auths.values()))
        )
        files = instances.readdress(conf.materialize(project / "asterisk-conf", creds),
                                    lay.instance)
        fp = conf.fingerprint(files, lay.mode, str(project / "prompts"))
        pid = _main_pid(lay)
        if pid is not None and _read_state().get("fingerprint") != fp:
            print("asterisk: configuration changed, restarting", flush=True)
            _stop_and_unmount(lay)
            pid = None
        conf.save_credentials(creds, ari_env_file(), agents_env_file())
        if pid is None:
            _stop_and_unmount(lay)  # stale mounts (e.g. another clone's prompts) go first
            busy = proc.ports_busy(lay.instance.host)
            if busy:
                raise RuntimeError(f"not starting Asterisk: already in use: {', '.join(busy)}")
            _prepare(lay, project, files)
            pid = _start(lay)
            state = {
                "pid": pid,
                "mode": lay.mode,
                "fingerprint": fp,
                "project": str(project),
                "root": str(lay.root or ""),
                "started": time.time(),
            }
            _state_file().write_text(json.dumps(state, indent=2) + "\n")
            print(f"asterisk: started ({lay.mode}, pid {pid})", flush=True)
        _wait_ready(lay, pid, creds)
    inst = lay.instance
    print(f"asterisk: ARI ready at {inst.ari_url} ({time.monotonic() - t0:.1f} s)", flush=True)
    return AsteriskRuntime(
        lay.mode,
        inst.ari_url,
        creds.ari_username,
        creds.ari_password,
        inst.sip_uri_host,
        lay.log_file,
    )


def _stop_and_unmount(lay: _Layout) -> None:
    pid = _main_pid(lay)
    if pid is not None:
        _stop(lay, pid)
    if lay.root is not None:
        # Its prompts are its own (a stale mount would play another clone's, or none); /proc
        # and /dev are every instance's, unmounted only when no process is left in the root.
        own = instances.in_root(lay.root, instances.prompts_mount(lay.instance))
        if aroot.is_mounted(own):
            aroot.unmount_all(own)
        others = any(proc.alive(p) for p in aroot.pids_in_root(lay.root))
        left = [own.as_posix()] if aroot.is_mounted(own) else []
        if not others:
            left += aroot.unmount_all(lay.root)
        if left:
            raise RuntimeError(f"could not unmount: {', '.join(left)}")
    _state_file().unlink(missing_ok=True)


def down() -> None:
    """Stop Asterisk and unmount everything under the root; idempotent."""
    with _locked():
        lay = _layout()
        _stop_and_unmount(lay)


def status() -> dict[str, object]:
    """What runs where: running, mode, pid, version, root, ari_url, log_file."""
    lay = _layout()
    pid = _main_pid(lay)
    version = ""
    if lay.root is None or lay.root.joinpath("usr/sbin/asterisk").exists():
        try:
            res = subprocess.run(lay.command("-V"), capture_output=True, text=True, timeout=10)
            version = res.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {
        "running": pid is not None,
        "mode": lay.mode,
        "pid": pid,
        "version": version,
        "root": str(lay.root) if lay.root else "",
        "instance": lay.instance.number,
        "ari_url": lay.instance.ari_url,
        "log_file": str(lay.log_file),
        "mounts": aroot.mounts_under(lay.root) if lay.root else [],
    }


def rx(command: str, timeout: float = 15.0) -> str:
    """Run an Asterisk CLI command (`asterisk -rx`) on the running Asterisk; returns its output."""
    lay = _layout()
    res = subprocess.run(
        lay.command("-rx", command), capture_output=True, text=True, timeout=timeout
    )
    if res.returncode != 0:
        raise RuntimeError(f"asterisk -rx {command!r} failed: {res.stderr or res.stdout}")
    return res.stdout


def agent_credentials() -> dict[str, str]:
    """Agent endpoint name -> SIP password, as generated by `up` (agents.env)."""
    env = conf.read_env(agents_env_file())
    names = [n for n in env.get("IVR_AGENTS", "").split(",") if n]
    return {n: env[f"IVR_AGENT_{n}_PASSWORD"] for n in names if f"IVR_AGENT_{n}_PASSWORD" in env}
