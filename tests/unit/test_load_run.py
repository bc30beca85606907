"""`ivr load`'s plumbing with the real tools: it says why SIPp placed no call instead of
reporting an empty, "successful" run (SIPp started on a SIP port another process holds), and
its capture filter keeps a second run against another Asterisk instance out (tcpdump reading
a capture written here).
"""

from __future__ import annotations

import socket
import struct
import subprocess
from pathlib import Path

import pytest

from ivr.testing import load
from ivr.testing.load import LoadPlan, _sipp_errors, capture_filter, run_load
from ivr.testing.load_pcap import PcapReader
from ivr.testing.load_sipp import CallerScript

BIND = "Unable to bind main socket, errno = 98 (Address already in use)"
SIPP_LOG = f"""Resolving remote host '127.0.0.1'... Done.
2026-12-07\t06:42:54.909324\t1796625774.909324: {BIND}
2026-12-07\t06:42:54.909324\t1796625774.909324: {BIND}
  1 open sockets                          0/0/0 UDP errors (send/recv/cong)
"""


def test_sipps_reasons_are_read_from_its_log_once_each(tmp_path: Path) -> None:
    log = tmp_path / "sipp.log"
    log.write_text(SIPP_LOG)
    assert _sipp_errors(log) == BIND
    assert _sipp_errors(tmp_path / "none.log") == f"see {tmp_path / 'none.log'}"


def test_a_run_whose_sip_port_is_taken_raises_with_sipps_reason(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        plan = LoadPlan(CallerScript.keys_every("101", "2"), callers=1, ramp=1, hold=1,
                        work=tmp_path / "run", sip_target="127.0.0.1:9",
                        local_sip_port=port)
        with pytest.raises(RuntimeError, match=r"SIPp placed no call .*Address already in use"):
            run_load(plan)


def _udp(src: str, sport: int, dst: str, dport: int) -> bytes:
    udp = struct.pack(">HHHH", sport, dport, 8 + 4, 0) + b"data"
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + udp


def test_the_capture_keeps_only_the_runs_own_asterisk(tmp_path: Path) -> None:
    packets = [  # (src, sport, dst, dport): this run targets 127.0.0.3, another 127.0.0.1
        ("127.0.0.1", 40001, "127.0.0.3", 5060), ("127.0.0.3", 5060, "127.0.0.1", 40001),
        ("127.0.0.3", 10002, "127.0.0.1", 20004), ("127.0.0.1", 20004, "127.0.0.3", 10002),
        ("127.0.0.1", 40002, "127.0.0.1", 5060), ("127.0.0.1", 10008, "127.0.0.1", 20004),
        ("127.0.0.3", 10002, "127.0.0.1", 31000),  # a softphone's RTP: not the run's ports
    ]
    raw = tmp_path / "all.pcap"
    with raw.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # raw IPv4
        for n, packet in enumerate(packets):
            data = _udp(*packet)
            out.write(struct.pack("<IIII", n, 0, len(data), len(data)) + data)
    kept = tmp_path / "kept.pcap"
    subprocess.run(["tcpdump", "-r", str(raw), "-w", str(kept),
                    capture_filter("127.0.0.3", "127.0.0.1", 5060, 20000, 29999)],
                   check=True, capture_output=True)
    assert [(d.src, d.dst) for d in PcapReader(kept).read()] == \
        [(40001, 5060), (5060, 40001), (10002, 20004), (20004, 10002)]


def test_a_second_run_takes_the_second_media_base_and_a_third_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1] & ~3  # 0 modulo 4, like 20000
    monkeypatch.setattr(load, "SIPP_MEDIA_BASES", (base, base + 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first_run:
        first_run.bind(("127.0.0.1", base + 2))  # what SIPp of a first run binds
        assert load._free_media_base() == base + 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second_run:
            second_run.bind(("127.0.0.1", base + 3))
            with pytest.raises(RuntimeError, match="two load runs are already using"):
                load._free_media_base()
