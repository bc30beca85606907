"""Pure logic of Asterisk provisioning: apt mirror discovery, mounts, configuration, secrets."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from ivr.app import asterisk, asterisk_conf, asterisk_root
from ivr.app.paths import project_root

CONF_DIR = project_root() / "asterisk-conf"

# Hosts are placeholders (.invalid): real mirrors come from the machine's apt configuration.
DEB822 = """\
Types: deb
# http://snapshot.example.invalid/archive/debian/20250520T000000Z
URIs: http://mirror.example.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_deb822_main_archive_wins_over_security() -> None:
    assert asterisk_root.sources_candidates([DEB822], []) == [
        "http://mirror.example.invalid/debian"
    ]


def test_deb822_security_listed_first_is_still_skipped() -> None:
    text = "\n".join(reversed(DEB822.split("\n\n")))
    assert asterisk_root.sources_candidates([text], [])[0].endswith("/debian")


def test_deb822_disabled_and_source_stanzas_are_ignored() -> None:
    text = (
        "Types: deb-src\nURIs: http://src.example.invalid/debian\nSuites: sid\nComponents: main\n\n"
        "Enabled: no\nTypes: deb\nURIs: http://off.example.invalid/debian\nSuites: sid\n"
        "Components: main\n"
    )
    assert asterisk_root.sources_candidates([text], []) == []


def test_legacy_sources_list_with_options() -> None:
    text = (
        "# deb http://commented.example.invalid/debian bookworm main\n"
        "deb [signed-by=/usr/share/keyrings/x.gpg arch=amd64] "
        "http://legacy.example.invalid/debian/ bookworm main contrib\n"
        "deb http://legacy.example.invalid/debian-security bookworm-security main\n"
    )
    assert asterisk_root.sources_candidates([], [text]) == ["http://legacy.example.invalid/debian"]


def test_non_debian_archive_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb http://archive.example.invalid/ubuntu noble main universe\n"
    )
    with pytest.raises(RuntimeError, match="IVR_DEBIAN_MIRROR"):
        asterisk_root.debian_mirror(tmp_path)


def test_mirror_from_apt_dir_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert asterisk_root.debian_mirror(tmp_path) == "http://mirror.example.invalid/debian"
    monkeypatch.setenv("IVR_DEBIAN_MIRROR", "http://local.example.invalid/debian/")
    assert asterisk_root.debian_mirror(tmp_path) == "http://local.example.invalid/debian"


MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,relatime 0 0
proc /c/asterisk-root/proc proc rw,relatime 0 0
devtmpfs /c/asterisk-root/dev devtmpfs rw 0 0
/dev/vda /c/asterisk-root/usr/share/asterisk/sounds/ivr ext4 rw 0 0
/dev/vda /c/asterisk-root2/dev ext4 rw 0 0
/dev/vda /c/my\\040root/proc ext4 rw 0 0
"""


def test_mounts_under_is_deepest_first_and_ignores_siblings() -> None:
    assert asterisk_root.mounts_under(Path("/c/asterisk-root"), MOUNTS) == [
        "/c/asterisk-root/usr/share/asterisk/sounds/ivr",
        "/c/asterisk-root/dev",
        "/c/asterisk-root/proc",
    ]


def test_mount_detection_decodes_escapes() -> None:
    assert asterisk_root.is_mounted(Path("/c/my root/proc"), MOUNTS)
    assert asterisk_root.is_mounted(Path("/c/asterisk-root/dev"), MOUNTS)
    assert not asterisk_root.is_mounted(Path("/c/asterisk-root"), MOUNTS)


def test_root_without_stamp_is_not_ready(tmp_path: Path) -> None:
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/asterisk").touch()
    assert not asterisk_root.root_is_ready(tmp_path)
    (tmp_path / asterisk_root.STAMP).write_text('{"packages": ["asterisk"]}')
    assert not asterisk_root.root_is_ready(tmp_path)  # older package list: bootstrap again
    (tmp_path / asterisk_root.STAMP).write_text(json.dumps({"packages": asterisk_root.PACKAGES}))
    assert asterisk_root.root_is_ready(tmp_path)


def test_agents_come_from_pjsip_conf() -> None:
    auths = asterisk_conf.agent_auths((CONF_DIR / "pjsip.conf").read_text())
    assert auths == {"agent1001-auth": "agent1001", "agent1002-auth": "agent1002"}


def test_repo_conf_has_no_secrets() -> None:
    for path in CONF_DIR.iterdir():
        for line in path.read_text().splitlines():
            code = line.split(";", 1)[0]
            assert not re.match(r"\s*(password|secret|md5_cred)\s*=", code), (path, line)


def test_credentials_are_generated_once_and_private(tmp_path: Path) -> None:
    ari, agents = tmp_path / "ari.env", tmp_path / "agents.env"
    first = asterisk_conf.load_credentials(ari, agents, ["agent1001", "agent1002"])
    asterisk_conf.save_credentials(first, ari, agents)
    again = asterisk_conf.load_credentials(ari, agents, ["agent1001", "agent1002", "agent1003"])
    assert again.ari_password == first.ari_password
    assert again.agents["agent1001"] == first.agents["agent1001"]
    assert again.agents["agent1003"] not in first.agents.values()
    assert stat.S_IMODE(os.stat(ari).st_mode) == 0o600
    env = asterisk_conf.read_env(ari)
    assert env["IVR_ARI_URL"] == "http://127.0.0.1:8088"
    assert env["IVR_ARI_PASSWORD"] == first.ari_password
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", first.ari_password)


def test_materialized_conf_includes_generated_secrets() -> None:
    creds = asterisk_conf.Credentials("ivr", "pw-ari", {"agent1001": "pw1", "agent1002": "pw2"})
    files = asterisk_conf.materialize(CONF_DIR, creds)
    assert "autoload = no" in files["modules.conf"]
    assert "#tryinclude ari_users.conf" in files["ari.conf"]
    assert "#tryinclude pjsip_agents_auth.conf" in files["pjsip.conf"]
    assert "password = pw-ari" in files["ari_users.conf"]
    auth = files["pjsip_agents_auth.conf"]
    assert "[agent1002-auth]" in auth
    assert "username = agent1002" in auth and "password = pw2" in auth
    fp = asterisk_conf.fingerprint(files, "chroot", "/p")
    assert fp == asterisk_conf.fingerprint(dict(files), "chroot", "/p")
    assert fp != asterisk_conf.fingerprint(files, "chroot", "/other")


def _context(text: str, name: str) -> str:
    return text.split(f"[{name}]", 1)[1].split("\n[", 1)[0]


def test_carrier_reaches_only_the_ivr() -> None:
    text = (CONF_DIR / "extensions.conf").read_text()
    carrier = _context(text, "from-carrier")
    assert re.findall(r"exten\s*=>", carrier) == [], "the carrier context holds no extension"
    assert re.findall(r"include\s*=>\s*(\S+)", carrier) == ["ivr-extensions"]
    ivr = _context(text, "ivr-extensions")
    assert re.findall(r"exten\s*=>\s*([^,]+),", ivr) == ["100", "101", "102", "901", "902"]
    assert re.findall(r"Stasis\(([^)]*)\)", ivr) == ["ivr,bank", "ivr,demo", "ivr,mailbox",
                                                     "ivr,demo-keys"]
    assert "Answer(" not in ivr and "Dial(" not in ivr
    # 901, the benchmark's dialplan baseline, goes to a menu that plays prompts and hangs up:
    # nothing there dials out or leaves it but for its own goodbye.
    assert re.findall(r"Goto\(([^,)]+),", ivr) == ["bench-demo-menu"]
    bench = _context(text, "bench-demo-menu")
    assert "Dial(" not in bench and "Stasis(" not in bench
    assert re.findall(r"Goto(?:If)?\(([^)]*)\)", bench) == [
        "$[${TRIES} > 3]?goodbye,1", "goodbye,1", "s,menu", "s,menu"]


def test_write_tree_replaces_samples(tmp_path: Path) -> None:
    (tmp_path / "sip.conf").write_text("old sample")
    (tmp_path / "manager.d").mkdir()
    (tmp_path / "manager.d" / "x.conf").write_text("x")
    files = {"modules.conf": "[modules]\n", "ari.conf": "[general]\n"}
    assert asterisk_conf.write_tree(tmp_path, files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ari.conf", "modules.conf"]
    assert stat.S_IMODE(os.stat(tmp_path / "ari.conf").st_mode) == 0o640
    assert not asterisk_conf.write_tree(tmp_path, files)


def test_host_mode_conf_and_data_dir(tmp_path: Path) -> None:
    system = tmp_path / "system"
    (system / "sounds" / "en").mkdir(parents=True)
    (system / "moh").mkdir()
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    dirs = asterisk_conf.host_dirs(tmp_path / "state")
    text = asterisk_conf.host_asterisk_conf(dirs, "[options]\nverbose = 3\n")
    assert f"astetcdir => {tmp_path / 'state' / 'etc'}" in text
    assert "astmoddir" not in text  # the installed binary's own modules
    assert text.endswith("[options]\nverbose = 3\n")
    data = dirs["astdatadir"]
    asterisk_conf.link_data_dir(system, data, prompts)
    asterisk_conf.link_data_dir(system, data, prompts)  # idempotent
    assert (data / "sounds" / "ivr").resolve() == prompts.resolve()
    assert (data / "sounds" / "en").resolve() == (system / "sounds" / "en").resolve()
    assert (data / "moh").resolve() == (system / "moh").resolve()


def test_agent_credentials_read_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    creds = asterisk_conf.Credentials("ivr", "a", {"agent1001": "s1", "agent1002": "s2"})
    asterisk_conf.save_credentials(creds, tmp_path / "ari.env", tmp_path / "agents.env")
    assert asterisk.agent_credentials() == {"agent1001": "s1", "agent1002": "s2"}


def test_runtime_repr_hides_password() -> None:
    rt = asterisk.AsteriskRuntime("chroot", "http://127.0.0.1:8088", "ivr", "s3cr3t", "x", Path())
    assert "s3cr3t" not in repr(rt)
