"""Several Asterisk instances on one machine, one loopback address each (`IVR_ASTERISK_INSTANCE`).

Instance 0 is the one `ivr run` and a developer use: 127.0.0.1, Debian's own directories inside
the cached root. Instance N (1..99) is the same Asterisk binary in the same root, listening on
127.0.0.(N+1) with the same ports, and with its own configuration, database, spool, logs and
control socket, so that several end-to-end test workers (or a load test beside a developer's
call) each have an Asterisk nobody else sends calls to. Sharing the root keeps the cost of an
instance to one more process: no second bootstrap, the same prompts mount.

Only the addresses the project's configuration binds are rewritten (http.conf `bindaddr`,
pjsip.conf's transport `bind` and `media_address`); the carrier stays identified by 127.0.0.1,
the address the softphones send from, whichever instance they call.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .asterisk_conf import link_data_entries

ENV = "IVR_ASTERISK_INSTANCE"
MAX_INSTANCE = 99
HTTP_PORT = 8088
SIP_PORT = 5060


@dataclass(frozen=True)
class Instance:
    """One Asterisk of this machine: its number, its loopback address and its names."""

    number: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_INSTANCE:
            raise ValueError(f"Asterisk instance must be 0..{MAX_INSTANCE}, not {self.number}")

    @property
    def host(self) -> str:
        return f"127.0.0.{self.number + 1}"

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{HTTP_PORT}"

    @property
    def sip_uri_host(self) -> str:
        return f"{self.host}:{SIP_PORT}"

    @property
    def suffix(self) -> str:
        """Appended to the names of what the instance owns: "" for instance 0, "-N" otherwise."""
        return f"-{self.number}" if self.number else ""

    def chroot_dirs(self) -> dict[str, str]:
        """asterisk.conf [directories] inside the root; {} for instance 0 (Debian's defaults).

        Modules and astvarlibdir stay Debian's; only what an instance writes, or reads as its
        own, moves. Its data dir is Debian's seen through links (`link_shared_data`) except
        sounds/ivr, where the instance's own project's prompts are mounted: instances started
        from different clones (a CI clone beside a developer's checkout) each play their own
        prompts, and a clone deleted under one instance cannot empty another's.
        """
        if not self.number:
            return {}
        s = self.suffix
        return {
            "astetcdir": f"/etc/asterisk{s}", "astdbdir": f"/var/lib/asterisk{s}",
            "astdatadir": f"/usr/share/asterisk{s}",
            "astspooldir": f"/var/spool/asterisk{s}", "astrundir": f"/run/asterisk{s}",
            "astlogdir": f"/var/log/asterisk{s}", "astcachedir": f"/var/cache/asterisk{s}",
        }  # fmt: skip


DEBIAN_DATA = "/usr/share/asterisk"
DEBIAN_SPOOL = "/var/spool/asterisk"


def in_root(root: Path, path: str) -> Path:
    """A path inside the chroot, as this machine sees it."""
    return root / path.lstrip("/")


def prompts_mount(inst: Instance) -> str:
    """Where, inside the root, the instance's Asterisk finds the project's prompts."""
    return f"{inst.chroot_dirs().get('astdatadir', DEBIAN_DATA)}/sounds/ivr"


def spool(inst: Instance) -> str:
    """The instance's spool inside the root (ARI recordings go to its recording/)."""
    return inst.chroot_dirs().get("astspooldir", DEBIAN_SPOOL)


def make_own_dirs(inst: Instance, root: Path) -> None:
    """An instance's own directories in the root: the writable ones owned like Debian's spool,
    the etc and data dirs root's (the group reads them), the data dir linked to Debian's."""
    owner = in_root(root, DEBIAN_SPOOL).stat()
    for key, path in inst.chroot_dirs().items():
        where = in_root(root, path)
        where.mkdir(parents=True, exist_ok=True)
        if key not in ("astetcdir", "astdatadir"):
            os.chown(where, owner.st_uid, owner.st_gid)
            where.chmod(0o750)
    if "astdatadir" in inst.chroot_dirs():
        link_shared_data(root, inst.chroot_dirs()["astdatadir"])


def link_shared_data(root: Path, data_dir: str, shared: str = DEBIAN_DATA) -> None:
    """Make `data_dir` (inside `root`) Debian's data dir by links, all but sounds/ivr.

    The links are absolute paths inside the root, as the chrooted Asterisk resolves them;
    sounds/ivr is left for the instance's mount of its project's prompts.
    """
    link_data_entries(in_root(root, shared), in_root(root, data_dir), shared)


def current() -> Instance:
    """The instance this process works with: `IVR_ASTERISK_INSTANCE`, 0 when unset."""
    raw = os.environ.get(ENV, "").strip() or "0"
    try:
        return Instance(int(raw))
    except ValueError:
        raise RuntimeError(f"{ENV} must be a number 0..{MAX_INSTANCE}, not {raw!r}") from None


def for_worker(worker: str) -> Instance:
    """The instance of a pytest-xdist worker: "gw0" -> 1, "gw2" -> 3. Instance 0 stays the
    developer's (`ivr run`), which a test run beside it then neither calls nor restarts."""
    m = re.fullmatch(r"gw(\d+)", worker)
    if not m:
        raise RuntimeError(f"unexpected pytest-xdist worker name {worker!r}")
    return Instance(int(m.group(1)) + 1)


def readdress(files: dict[str, str], inst: Instance) -> dict[str, str]:
    """The configuration with the instance's address where the project's binds 127.0.0.1."""
    if not inst.number:
        return files
    out = dict(files)
    if "http.conf" in out:
        out["http.conf"] = _set(out["http.conf"], "bindaddr", inst.host, "http.conf")
    if "pjsip.conf" in out:
        text = _set(out["pjsip.conf"], "bind", f"{inst.host}:{SIP_PORT}", "pjsip.conf")
        out["pjsip.conf"] = _set(text, "media_address", inst.host, "pjsip.conf")
    return out


def with_directories(asterisk_conf: str, dirs: dict[str, str | Path]) -> str:
    """asterisk.conf with a [directories] section first (the project's has none)."""
    if not dirs:
        return asterisk_conf
    lines = ["; [directories] generated by `ivr asterisk up` for this instance.", "[directories]"]
    lines += [f"{key} => {path}" for key, path in dirs.items()]
    return "\n".join(lines) + "\n\n" + asterisk_conf


def _set(text: str, key: str, value: str, name: str) -> str:
    """Replace the 127.0.0.1 value of every `key = ...` line; fail loudly if there is none, so
    that a renamed setting cannot leave an instance listening on another instance's address."""
    pattern = re.compile(rf"^(\s*{re.escape(key)}\s*=\s*)127\.0\.0\.1(:\d+)?", re.M)
    new, count = pattern.subn(lambda m: m.group(1) + value, text)
    if not count:
        raise RuntimeError(f"{name}: no '{key} = 127.0.0.1' to give another Asterisk instance")
    return new
