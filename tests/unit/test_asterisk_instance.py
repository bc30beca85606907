"""Several Asterisk instances on one machine: addresses, names and the configuration each gets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ivr.app import asterisk
from ivr.app import asterisk_conf as conf
from ivr.app import asterisk_instance as instances
from ivr.app.paths import project_root
from ivr.testing.softphone import normalize_target


def test_instance_zero_is_the_developers_asterisk_unchanged() -> None:
    zero = instances.Instance(0)
    assert (zero.host, zero.ari_url, zero.sip_uri_host) == (
        "127.0.0.1", "http://127.0.0.1:8088", "127.0.0.1:5060")
    assert zero.suffix == "" and zero.chroot_dirs() == {}
    files = {"http.conf": "bindaddr = 127.0.0.1\n"}
    assert instances.readdress(files, zero) is files


def test_workers_get_their_own_instance_never_the_developers() -> None:
    assert instances.for_worker("gw0").number == 1
    assert instances.for_worker("gw2").host == "127.0.0.4"
    with pytest.raises(RuntimeError, match="worker name"):
        instances.for_worker("master")


def test_instance_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert instances.current().number == 0
    monkeypatch.setenv(instances.ENV, "3")
    assert instances.current().ari_url == "http://127.0.0.4:8088"
    for bad in ("x", "100", "-1"):
        monkeypatch.setenv(instances.ENV, bad)
        with pytest.raises(RuntimeError, match=r"0\.\.99"):
            instances.current()


def test_the_projects_configuration_moves_to_the_instance_address() -> None:
    creds = conf.Credentials("ivr", "pw", {"agent1001": "a", "agent1002": "b"})
    files = conf.materialize(project_root() / "asterisk-conf", creds)
    moved = instances.readdress(files, instances.Instance(2))
    assert "bindaddr = 127.0.0.3" in moved["http.conf"]
    assert "bind = 127.0.0.3:5060" in moved["pjsip.conf"]
    assert "media_address = 127.0.0.3" in moved["pjsip.conf"]
    assert "bind_rtp_to_media_address = yes" in moved["pjsip.conf"]
    assert "match = 127.0.0.1" in moved["pjsip.conf"], "the carrier is still the softphones"
    assert files["http.conf"] != moved["http.conf"], "the original is not changed in place"


def test_a_setting_that_cannot_be_moved_is_an_error_not_a_shared_address() -> None:
    with pytest.raises(RuntimeError, match=re.escape("http.conf: no 'bindaddr = 127.0.0.1'")):
        instances.readdress({"http.conf": "bindaddr = 0.0.0.0\n"}, instances.Instance(1))


def test_an_instance_writes_only_its_own_directories() -> None:
    dirs = instances.Instance(4).chroot_dirs()
    assert dirs["astetcdir"] == "/etc/asterisk-4"
    assert dirs["astspooldir"] == "/var/spool/asterisk-4"
    assert "astmoddir" not in dirs and "astvarlibdir" not in dirs, "modules are shared"
    text = instances.with_directories("[options]\nmaxcalls = 1\n", dict(dirs))
    assert text.index("[directories]") < text.index("[options]")
    assert "astdbdir => /var/lib/asterisk-4" in text


def test_layout_and_paths_follow_the_instance(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("IVR_ASTERISK_MODE", "chroot")
    monkeypatch.setenv("IVR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    root = tmp_path / "cache" / "asterisk-root"
    zero = asterisk._layout()
    assert zero.command("-rx", "x") == ["chroot", str(root), "asterisk", "-rx", "x"]
    assert asterisk.recording_dir() == root / "var/spool/asterisk/recording"
    monkeypatch.setenv(instances.ENV, "2")
    two = asterisk._layout()
    assert two.etc_dir == root / "etc/asterisk-2"
    assert two.log_file == root / "var/log/asterisk-2/full"
    assert two.command("-rx", "x")[2:] == ["asterisk", "-C", "/etc/asterisk-2/asterisk.conf",
                                           "-rx", "x"]
    assert asterisk.recording_dir() == root / "var/spool/asterisk-2/recording"
    assert asterisk._state_file() == tmp_path / "state" / "asterisk-2.json"
    # Every instance's daemon runs in the one root: each finds only its own by its arguments.
    own = [b"asterisk", b"-C", b"/etc/asterisk-2/asterisk.conf", b"-f"]
    assert asterisk._is_instance(two, own) and not asterisk._is_instance(zero, own)
    assert asterisk._is_instance(zero, [b"asterisk", b"-f"])
    assert not asterisk._is_instance(two, [b"asterisk", b"-f"])


def test_softphones_dial_the_asterisk_of_their_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_target("100") == "sip:100@127.0.0.1:5060"
    monkeypatch.setenv("IVR_SIP_HOST", "127.0.0.5")
    assert normalize_target("*71") == "sip:*71@127.0.0.5:5060"
    assert normalize_target("100", "127.0.0.1:5070") == "sip:100@127.0.0.1:5070"


def test_an_instance_plays_its_own_projects_prompts_through_its_own_data_dir(
        tmp_path: Path) -> None:
    """Two clones' instances never share the prompts mount: each has a data dir of its own,
    Debian's by links, with sounds/ivr free for its own project's prompts."""
    root = tmp_path / "root"
    shared = root / "usr/share/asterisk"
    (shared / "sounds/en").mkdir(parents=True)
    (shared / "sounds/ivr").mkdir()
    (shared / "moh").mkdir()
    three = instances.Instance(3)
    assert instances.prompts_mount(instances.Instance(0)) == "/usr/share/asterisk/sounds/ivr"
    assert instances.prompts_mount(three) == "/usr/share/asterisk-3/sounds/ivr"
    instances.link_shared_data(root, three.chroot_dirs()["astdatadir"])
    instances.link_shared_data(root, three.chroot_dirs()["astdatadir"])  # idempotent
    data = root / "usr/share/asterisk-3"
    assert os.readlink(data / "moh") == "/usr/share/asterisk/moh", "links resolve in the root"
    assert os.readlink(data / "sounds/en") == "/usr/share/asterisk/sounds/en"
    assert not (data / "sounds/ivr").exists(), "left for the instance's own mount"
    assert instances.spool(three) == "/var/spool/asterisk-3"
    assert instances.spool(instances.Instance(0)) == "/var/spool/asterisk"
