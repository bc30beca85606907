"""The SIPp side of a load run: the caller's scenario, the command line, its live counters.

Why SIPp: one C++ process holds hundreds of calls for a few percent of a core (a pjsua2
phone per call costs a process and a jitter buffer each, and would decide the result on two
cores). SIPp cannot hear, so it only signals and sends keys; the packet capture judges audio.

Each call: INVITE offering PCMU and telephone-event/8000, ACK, then for every key a wait and
the RFC 2833 digit pcap that ships with SIPp, then the IVR's BYE within the caller's patience;
if none comes, the caller hangs up itself (the analysis counts that as a failure). The SDP
port is `[auto_media_port]` (the -mp base + 4 per call number): every call has its own port,
which is how the capture tells the calls' RTP apart. SIPp opens no socket there (pcap play
sends raw packets), so Asterisk's audio to it costs the generator nothing.
"""

from __future__ import annotations

import contextlib
import csv
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

DTMF_PCAPS = Path("/usr/share/sip-tester")
PCAP_NAMES = {"*": "star", "#": "pound"}
DTMF_PCAP_MS = 200
"""How long the shipped digit pcaps last (7 packets + 3 end packets, 20 ms apart)."""


def dtmf_pcap(key: str, folder: Path = DTMF_PCAPS) -> Path:
    return folder / f"dtmf_2833_{PCAP_NAMES.get(key, key)}.pcap"


# The shipped digit pcaps' RTP stream: the opening silence continues it (same SSRC, the
# sequence numbers and timestamps just before), so Asterisk sees one stream from the caller.
_DTMF_SSRC, _DTMF_SEQ, _DTMF_TS = 0x0E05384E, 0x1F6A, 0x5AA0


def write_silence_pcap(path: Path, packets: int = 10) -> Path:
    """A pcap of `packets` 20 ms PCMU frames of silence, for SIPp's play_pcap_audio.

    Why a caller sends it: a real phone sends audio from the answer, and Asterisk's dialplan
    Answer() waits up to 500 ms for the first frame when none comes, which would charge the
    dialplan baseline for the generator's silence. It also lets strict RTP learn the address.
    """
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n in range(packets):
        seq = (_DTMF_SEQ - packets + n) & 0xFFFF
        rtp = struct.pack(">BBHII", 0x80, 0, seq, (_DTMF_TS - 160 * (packets - n)) & 0xFFFFFFFF,
                          _DTMF_SSRC) + b"\xff" * 160
        udp = struct.pack(">HHHH", 49176, 10000, 8 + len(rtp), 0) + rtp
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0,
                         bytes([192, 168, 0, 3]), bytes([192, 168, 0, 1])) + udp
        frame = b"\0" * 12 + b"\x08\x00" + ip
        usec = n * 20000
        out.append(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame),
                               len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


@dataclass(frozen=True)
class CallerScript:
    """What every caller of the run does."""

    extension: str
    keys: str = ""
    key_wait: float = 10.0
    """Seconds from the answer to the first key, and between keys."""
    patience: float = 8.0
    """Seconds after the last key within which the IVR must hang up."""
    caller_id: str = "5550100"
    answer_timeout: float = 10.0


_SDP = """v=0
o=load 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""


def _msg(text: str) -> str:
    return "<![CDATA[\n" + text.replace("\n", "\r\n") + "]]>"


def scenario_xml(script: CallerScript, silence: Path, pcaps: Path = DTMF_PCAPS) -> str:
    """The SIPp scenario for `script`; `silence` is write_silence_pcap's file."""
    ext, cid = escape(script.extension), escape(script.caller_id)
    invite = (f"INVITE sip:{ext}@[remote_ip]:[remote_port] SIP/2.0\n"
              "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
              f"From: <sip:{cid}@[local_ip]:[local_port]>;tag=[call_number]load\n"
              f"To: <sip:{ext}@[remote_ip]:[remote_port]>\n"
              "Call-ID: [call_id]\nCSeq: 1 INVITE\n"
              f"Contact: <sip:{cid}@[local_ip]:[local_port]>\nMax-Forwards: 70\n"
              "Content-Type: application/sdp\nContent-Length: [len]\n\n" + _SDP)
    ack = ("ACK sip:{ext}@[remote_ip]:[remote_port] SIP/2.0\n"
           "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
           "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 1 ACK\n"
           "Contact: <sip:load@[local_ip]:[local_port]>\nMax-Forwards: 70\n"
           "Content-Length: 0\n\n").replace("{ext}", ext)
    bye = ("BYE sip:{ext}@[remote_ip]:[remote_port] SIP/2.0\n"
           "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
           "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 2 BYE\n"
           "Max-Forwards: 70\nContent-Length: 0\n\n").replace("{ext}", ext)
    ok = ("SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
          "[last_CSeq:]\nContent-Length: 0\n\n")
    steps = [f'<send retrans="500">{_msg(invite)}</send>',
             '<recv response="100" optional="true"/>',
             '<recv response="180" optional="true"/>',
             '<recv response="183" optional="true"/>',
             f'<recv response="200" rrs="true" timeout="{int(script.answer_timeout * 1000)}"/>',
             f"<send>{_msg(ack)}</send>",
             '<nop><action><exec play_pcap_audio="'
             f'{escape(str(silence))}"/></action></nop>']
    for key in script.keys:
        steps.append(f'<pause milliseconds="{int(script.key_wait * 1000)}"/>')
        steps.append('<nop><action><exec play_pcap_audio="'
                     f'{escape(str(dtmf_pcap(key, pcaps)))}"/></action></nop>')
        steps.append(f'<pause milliseconds="{DTMF_PCAP_MS}"/>')
    patience = int(script.patience * 1000)
    steps += [f'<recv request="BYE" timeout="{patience}" ontimeout="giveup"/>',
              f"<send>{_msg(ok)}</send>",
              '<nop next="end"/>',
              '<label id="giveup"/>',
              f"<send>{_msg(bye)}</send>",
              '<recv response="200" timeout="5000"/>',
              '<label id="end"/>']
    body = "\n  ".join(steps)
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            f'<scenario name="ivr-load">\n  {body}\n</scenario>\n')


@dataclass(frozen=True)
class SippRun:
    """How SIPp is started for a run."""

    scenario: Path
    stats_file: Path
    callers: int
    rate: float
    """New calls a second while ramping up (and whenever a call ends, up to `callers`)."""
    calls: int
    """Calls in total (SIPp's -m): the run ends when they are done, or when told to quit."""
    target: str = "127.0.0.1:5060"
    local_port: int = 5070
    media_port: int = 20000
    control_port: int = 8889

    def command(self, sipp: str = "sipp") -> list[str]:
        return [sipp, self.target, "-sf", str(self.scenario), "-i", "127.0.0.1",
                "-mi", "127.0.0.1", "-p", str(self.local_port), "-mp", str(self.media_port),
                "-cp", str(self.control_port), "-l", str(self.callers),
                "-r", f"{self.rate:g}", "-m", str(self.calls), "-nostdin",
                "-trace_stat", "-stf", str(self.stats_file), "-fd", "1",
                "-max_socket", str(max(1024, self.callers * 4))]

    def command_key(self, key: bytes) -> None:
        """A key as typed at SIPp's screen, sent to its UDP control port: b"p" pauses the
        start of new calls, b"Q" quits at once. (Its graceful 'q' gives calls in progress only
        about ten seconds, shorter than a call, so a run pauses, waits, then quits.)"""
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET,
                                                         socket.SOCK_DGRAM) as sock:
            sock.sendto(key, ("127.0.0.1", self.control_port))


def media_ports(run: SippRun) -> tuple[int, int]:
    """The range [auto_media_port] takes: base + 4 * (n - 1) modulo 10000."""
    return run.media_port, run.media_port + 9999


def sipp_counters(stats_file: Path) -> dict[str, int]:
    """The last line of SIPp's statistics CSV: CurrentCall, SuccessfulCall(C), FailedCall(C)..."""
    try:
        rows = list(csv.reader(stats_file.read_text(errors="replace").splitlines(),
                               delimiter=";"))
    except FileNotFoundError:
        return {}
    if len(rows) < 2:
        return {}
    out: dict[str, int] = {}
    for name, value in zip(rows[0], rows[-1], strict=False):
        with contextlib.suppress(ValueError):
            out[name] = int(value)
    return out
