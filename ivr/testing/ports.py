"""The UDP port plan on loopback: which process takes which RTP ports, kept apart.

Ports that are bound cannot be shared by mistake (a second bind fails and the softphone moves
on), but ports that are only *advertised* can: SIPp's callers offer a port per call in their
SDP (`[auto_media_port]`) and open no socket there. Asterisk sends that call's audio to it,
and if a test softphone happens to have bound the same port it receives a stranger's audio,
and pjmedia, which follows the RTP source it hears, then sends its own audio to the wrong
Asterisk. A test that ran beside a load run heard a garbled "goodbye" that way, and another
was never heard saying its digit. So each kind of RTP user has its own range here, and a unit
test checks that they are disjoint, that Asterisk's rtp.conf agrees, and that the kernel's
ephemeral range (the app's externalMedia listeners, bound to port 0) lies outside the others.
"""

from __future__ import annotations

import random
import socket

ASTERISK_RTP = range(10000, 20000)
"""asterisk-conf/rtp.conf rtpstart..rtpend: every Asterisk instance's side of a call (each
on its own loopback address, so instances do not collide with one another)."""

SIPP_MEDIA = range(20000, 30000)
"""What `ivr load` callers advertise: the -mp base plus 4 per call number, modulo 10000
(load_sipp.media_ports)."""

SIPP_MEDIA_BASES = (20000, 20001)
"""The -mp bases two load runs at once take (SIPp binds base and base + 2; each run
advertises ports equal to its base modulo 4, so the two never meet)."""

SOFTPHONE_RTP = range(30000, 32768)
"""Test softphones (pjsetup): a random even base in here, then up to SOFTPHONE_TRIES ports on
when another phone has it. Ends where Linux's default ephemeral range (32768-60999) begins."""

SOFTPHONE_TRIES = 200


def softphone_bases() -> range:
    """The even ports a softphone may start from, so that all its tries stay in range."""
    return range(SOFTPHONE_RTP.start, SOFTPHONE_RTP.stop - SOFTPHONE_TRIES - 2, 2)


SOFTPHONE_SIP = range(7000, 7400)
"""SIP ports for test softphones that must be known before they start (a callback's dial
string names its customer's phone): a hundred per Asterisk instance, so the xdist workers
(one instance each) never pick the same one, and below the kernel's ephemeral range, where
any socket may take a port between a test picking it and its phone binding it (a callback
test's customer phone found its port taken that way, beside a load run)."""

SIP_PORTS_PER_INSTANCE = 100


def softphone_sip_port(instance: int) -> int:
    """A port of this instance's hundred that is free now, for UDP and for TCP."""
    first = SOFTPHONE_SIP.start + SIP_PORTS_PER_INSTANCE * instance
    ports = list(range(first, first + SIP_PORTS_PER_INSTANCE))
    if ports[-1] >= SOFTPHONE_SIP.stop:
        raise ValueError(f"no SIP ports planned for instance {instance}")
    random.shuffle(ports)
    for port in ports:
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as sock:
                    sock.bind(("0.0.0.0", port))
        except OSError:
            continue
        return port
    raise OSError(f"every SIP port from {first} to {first + SIP_PORTS_PER_INSTANCE - 1} is taken")
