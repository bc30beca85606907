"""The loopback port plan (ivr/testing/ports.py): every RTP user in a range of its own.

An overlap does not fail loudly: a softphone that binds a port a SIPp caller advertised hears
a stranger's audio and then talks to the wrong Asterisk (the flaky speech test of stop 23).
"""

from __future__ import annotations

import itertools
import re
import socket
from pathlib import Path

import pytest

from ivr.testing.load_sipp import SippRun, media_ports
from ivr.testing.ports import (
    ASTERISK_RTP,
    SIP_PORTS_PER_INSTANCE,
    SIPP_MEDIA,
    SIPP_MEDIA_BASES,
    SOFTPHONE_RTP,
    SOFTPHONE_SIP,
    SOFTPHONE_TRIES,
    softphone_bases,
    softphone_sip_port,
)

ROOT = Path(__file__).resolve().parents[2]
PLAN = {"asterisk": ASTERISK_RTP, "sipp": SIPP_MEDIA, "softphone": SOFTPHONE_RTP,
        "softphone SIP": SOFTPHONE_SIP}


def overlap(a: range, b: range) -> bool:
    return max(a.start, b.start) < min(a.stop, b.stop)


def test_the_ranges_are_disjoint() -> None:
    for (name_a, a), (name_b, b) in itertools.combinations(PLAN.items(), 2):
        assert not overlap(a, b), f"{name_a} {a} overlaps {name_b} {b}"


def test_asterisk_rtp_conf_is_the_planned_range() -> None:
    conf = (ROOT / "asterisk-conf" / "rtp.conf").read_text()
    start = int(re.search(r"^rtpstart\s*=\s*(\d+)", conf, re.M).group(1))  # type: ignore[union-attr]
    end = int(re.search(r"^rtpend\s*=\s*(\d+)", conf, re.M).group(1))  # type: ignore[union-attr]
    assert range(start, end + 1) == ASTERISK_RTP


def test_what_sipp_callers_advertise_is_in_their_range_and_two_runs_never_meet() -> None:
    advertised, bound = [], []
    for base in SIPP_MEDIA_BASES:
        run = SippRun(scenario=Path("s.xml"), stats_file=Path("s.csv"), callers=1, rate=1,
                      calls=1, media_port=base)
        low, high = media_ports(run)
        ports = {low + (4 * (n - 1)) % len(SIPP_MEDIA) for n in range(1, 20001)}
        assert min(ports) == low and max(ports) == high and high in SIPP_MEDIA
        assert run.command()[run.command().index("-mp") + 1] == str(base)
        advertised.append(ports)
        bound.append({base, base + 2})
    assert not advertised[0] & advertised[1]
    assert not bound[0] & advertised[1] and not bound[1] & advertised[0]
    assert not bound[0] & bound[1]


def test_every_port_a_softphone_may_try_is_in_its_range() -> None:
    bases = softphone_bases()
    assert len(bases) > 1000, "room for many phones side by side"
    assert all(base % 2 == 0 for base in (bases[0], bases[-1]))
    assert bases[0] >= SOFTPHONE_RTP.start
    assert bases[-1] + SOFTPHONE_TRIES + 1 < SOFTPHONE_RTP.stop  # RTP and RTCP of the last try


def test_the_kernels_ephemeral_ports_are_outside_the_plan() -> None:
    """The app binds its externalMedia listeners to port 0: the kernel picks from here."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ephemeral = range(low, high + 1)
    for name, ports in PLAN.items():
        assert not overlap(ephemeral, ports), \
            f"net.ipv4.ip_local_port_range {low}-{high} overlaps the {name} range {ports}"


def test_each_instance_has_its_own_sip_ports_and_a_taken_one_is_skipped() -> None:
    """xdist workers (one Asterisk instance each) never pick the same fixed SIP port."""
    spans = [range(SOFTPHONE_SIP.start + SIP_PORTS_PER_INSTANCE * n,
                   SOFTPHONE_SIP.start + SIP_PORTS_PER_INSTANCE * (n + 1)) for n in range(4)]
    for n, span in enumerate(spans):
        assert softphone_sip_port(n) in span
        assert span.stop <= SOFTPHONE_SIP.stop
    held = []
    # All but one port of instance 0 taken: that one is the answer. Instance 0 is the
    # benchmarks'; the suite's end-to-end workers (instances 1-3) run beside this test in CI
    # and hold their own instance's ports, which made a bind here fail.
    try:
        for port in spans[0][1:]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", port))
            held.append(sock)
        assert softphone_sip_port(0) == spans[0][0]
    finally:
        for sock in held:
            sock.close()
    with pytest.raises(ValueError, match="no SIP ports planned for instance 4"):
        softphone_sip_port(4)
