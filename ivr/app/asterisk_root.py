"""The cached Debian sid root that runs Asterisk 22 chrooted, and the mounts it needs.

Debian stable has no Asterisk package; sid has Asterisk 22. debootstrap builds a minimal sid root
once per machine (about a minute), then every `up` reuses it. Everything here is careful with
mounts: a bind-mounted /dev inside a folder that someone deletes would delete the host's devices.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Packages installed into the root. asterisk-moh-opsound-wav gives the default hold music class.
PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-modules",
    "asterisk-config",
    "asterisk-core-sounds-en-wav",
    "asterisk-moh-opsound-wav",
)
SUITE = "sid"
#: debootstrap output lines worth showing (the rest goes to the log file only).
_PROGRESS = (
    "I: Retrieving Release ", "I: Resolving dependencies of required", "I: Retrieving Packages",
    "I: Installing core", "I: Unpacking the base", "I: Configuring the base", "I: Base system",
    "E:", "W: Failure",
)  # fmt: skip
STAMP = ".ivr-root.json"
#: Where Debian's asterisk keeps its data (sounds, moh) inside the root.
DATA_DIR = Path("usr/share/asterisk")

_DEBIAN_SUITES = {
    "sid", "unstable", "testing", "stable", "oldstable", "experimental",
    "forky", "trixie", "bookworm", "bullseye", "buster",
}  # fmt: skip


# --- Mirror from the machine's apt configuration --------------------------------------------


def parse_deb822(text: str) -> list[dict[str, str]]:
    """Stanzas of a deb822 .sources file as {field (lower case): value}, comments dropped."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
            continue
        if raw[0] in " \t" and key:
            current[key] = f"{current[key]} {raw.strip()}".strip()
            continue
        name, sep, value = raw.partition(":")
        if sep:
            key = name.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _score(uri: str, suites: Sequence[str], components: Sequence[str]) -> int:
    """How much a source looks like the main Debian archive (0: not at all)."""
    if not uri.startswith(("http://", "https://")) or "security" in uri:
        return 0
    if any("security" in s for s in suites) or "main" not in components:
        return 0
    score = 0
    if uri.rstrip("/").lower().endswith("/debian"):
        score += 2
    if any(s.split("-")[0] in _DEBIAN_SUITES for s in suites):
        score += 1
    return score


def sources_candidates(deb822_texts: Iterable[str], list_texts: Iterable[str]) -> list[str]:
    """Mirror URIs from apt configuration texts, best first (the main Debian archive)."""
    scored: list[tuple[int, int, str]] = []
    order = 0
    for text in deb822_texts:
        for st in parse_deb822(text):
            if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
                continue
            suites, comps = st.get("suites", "").split(), st.get("components", "").split()
            for uri in st.get("uris", "").split():
                scored.append((_score(uri, suites, comps), order, uri))
                order += 1
    for text in list_texts:
        for line in text.splitlines():
            # "deb [signed-by=...] URI SUITE COMPONENT..." with the options dropped
            f = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(f) >= 4 and f[0] == "deb":
                scored.append((_score(f[1], [f[2]], f[3:]), order, f[1]))
                order += 1
    good = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return [uri.rstrip("/") for _, _, uri in good]


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive this machine already uses (IVR_DEBIAN_MIRROR overrides)."""
    env = os.environ.get("IVR_DEBIAN_MIRROR")
    if env:
        return env.rstrip("/")
    d822 = [p.read_text() for p in sorted((apt_dir / "sources.list.d").glob("*.sources"))]
    lists = [p.read_text() for p in sorted((apt_dir / "sources.list.d").glob("*.list"))]
    if (apt_dir / "sources.list").is_file():
        lists.append((apt_dir / "sources.list").read_text())
    found = sources_candidates(d822, lists)
    if not found:
        raise RuntimeError(
            f"no Debian archive found in {apt_dir}/sources.list(.d); set IVR_DEBIAN_MIRROR"
        )
    return found[0]


# --- Mounts -----------------------------------------------------------------------------


def _unescape(field: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as octal (\\040...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_points(text: str | None = None) -> list[str]:
    """Mount points listed in /proc/mounts (or in `text`), in mount order."""
    if text is None:
        text = Path("/proc/mounts").read_text()
    return [_unescape(line.split()[1]) for line in text.splitlines() if len(line.split()) > 1]


def mounts_under(path: Path, text: str | None = None) -> list[str]:
    """Mount points at or below `path`, deepest (last mounted) first: the unmount order."""
    base = os.path.realpath(path)
    found = [m for m in mount_points(text) if m == base or m.startswith(base.rstrip("/") + "/")]
    return list(reversed(found))


def is_mounted(path: Path, text: str | None = None) -> bool:
    """Whether `path` itself is a mount point (never mount twice on top of ourselves)."""
    return os.path.realpath(path) in mount_points(text)


def _run(cmd: Sequence[str | os.PathLike[str]]) -> None:
    subprocess.run([os.fspath(c) for c in cmd], check=True)


def ensure_mount_proc(target: Path) -> None:
    if not is_mounted(target):
        _run(["mount", "-t", "proc", "proc", target])


def ensure_bind(source: Path, target: Path) -> None:
    """Bind-mount `source` on `target` (read-only when asked is not needed: Asterisk only reads)."""
    if is_mounted(target):
        return
    target.mkdir(parents=True, exist_ok=True)
    _run(["mount", "--bind", source, target])
    # Keep later host mounts below `source` (e.g. new /dev submounts) out of the root, so that
    # unmounting never finds unexpected children.
    subprocess.run(["mount", "--make-private", os.fspath(target)], check=False)


def unmount_all(path: Path) -> list[str]:
    """Unmount everything at or below `path`; returns what could not be unmounted."""
    for point in mounts_under(path):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    return mounts_under(path)


def safe_rmtree(path: Path) -> None:
    """Delete a root only when nothing is mounted inside it (a bound /dev would be wiped)."""
    if not path.exists():
        return
    left = unmount_all(path)
    if left:
        raise RuntimeError(f"refusing to delete {path}: still mounted: {', '.join(left)}")
    shutil.rmtree(path)


# --- Processes ----------------------------------------------------------------------------


def pids_in_root(root: Path) -> list[int]:
    """Processes whose root directory is `root`: our chrooted Asterisk, found without names."""
    real = os.path.realpath(root)
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == real:
                pids.append(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


# --- Bootstrap -------------------------------------------------------------------------------


def read_stamp(root: Path) -> dict[str, object] | None:
    try:
        data = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def root_is_ready(root: Path, packages: Sequence[str] = PACKAGES) -> bool:
    """A root is usable only if our bootstrap completed (stamp) with at least these packages."""
    stamp = read_stamp(root)
    if stamp is None or not (root / "usr/sbin/asterisk").exists():
        return False
    have = stamp.get("packages")
    return isinstance(have, list) and set(packages) <= set(have)


def _ensure_debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found:
        return found
    print("asterisk: installing debootstrap with apt-get", flush=True)
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("debootstrap is not installed and apt-get could not install it")
    return found


def _clean_stale(root: Path) -> None:
    """Remove temp roots left by interrupted bootstraps (after unmounting inside them)."""
    for stale in root.parent.glob(f"{root.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue  # another bootstrap is running right now
        print(f"asterisk: removing interrupted bootstrap {stale}", flush=True)
        safe_rmtree(stale)


def bootstrap(root: Path, packages: Sequence[str] = PACKAGES, log: Path | None = None) -> float:
    """Build the sid root next to `root`, then rename it into place; returns seconds taken.

    The rename makes completion atomic: a root without our stamp is never used.
    """
    if sys.platform != "linux" or os.geteuid() != 0:
        raise RuntimeError("the Asterisk root needs root on Debian (or an `asterisk` on PATH)")
    if not shutil.which("apt-get"):
        raise RuntimeError("no apt-get: install Asterisk 22 yourself and put it on PATH")
    root.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(root)
    debootstrap = _ensure_debootstrap()
    mirror = debian_mirror()
    tmp = root.parent / f"{root.name}.tmp-{os.getpid()}"
    include = f"--include={','.join(packages)}"
    cmd = [debootstrap, "--variant=minbase", include, SUITE, str(tmp), mirror]
    print(f"asterisk: bootstrapping Debian {SUITE} with Asterisk into {root}", flush=True)
    print(f"asterisk: mirror {mirror} (from apt configuration); takes about a minute", flush=True)
    start = time.monotonic()
    lines = 0
    logf = open(log, "a") if log else None
    try:
        with subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines += 1
                if logf:
                    logf.write(line)
                if line.startswith(_PROGRESS):
                    print(f"asterisk:   {line.rstrip()}", flush=True)
                elif lines % 150 == 0:
                    print(f"asterisk:   ... {time.monotonic() - start:.0f} s", flush=True)
        if proc.returncode != 0:
            unmount_all(tmp)
            raise RuntimeError(f"debootstrap failed (rc {proc.returncode}); see {log}")
    except BaseException:
        unmount_all(tmp)
        raise
    finally:
        if logf:
            logf.close()
    seconds = time.monotonic() - start
    left = unmount_all(tmp)  # debootstrap unmounts its own /proc, /sys; be sure
    if left:
        raise RuntimeError(f"mounts left inside {tmp}: {left}")
    stamp = {
        "suite": SUITE,
        "packages": list(packages),
        "mirror": mirror,
        "seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    if root.exists():
        old = root.parent / f"{root.name}.tmp-{os.getpid()}-old"
        os.rename(root, old)
        os.rename(tmp, root)
        safe_rmtree(old)
    else:
        os.rename(tmp, root)
    print(f"asterisk: root ready in {seconds:.0f} s ({lines} debootstrap lines)", flush=True)
    return seconds


def asterisk_gid(root: Path) -> int | None:
    """The asterisk group id inside the root, so generated secrets can be 0640 root:asterisk."""
    try:
        for line in (root / "etc/group").read_text().splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[0] == "asterisk":
                return int(parts[2])
    except (OSError, ValueError):
        return None
    return None
