"""The SIPp side of a load run: the caller's scenario, the command line, its live counters.

Why SIPp: one C++ process holds hundreds of calls for a few percent of a core (a pjsua2
phone per call costs a process and a jitter buffer each, and would decide the result on two
cores). SIPp cannot hear, so it only signals and sends keys; the packet capture judges audio.

Each call: INVITE offering PCMU and telephone-event/8000, ACK, then for every key of the
caller's script a pause until its time (seconds from the answer) and an RFC 4733 digit pcap
written for that key (`write_media`), then either the IVR's BYE by the script's end (if none
comes, the caller hangs up itself, and the analysis counts that as a failure) or, where the
script hangs up, a pause and the caller's BYE. The SDP
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

DTMF_PCAP_MS = 200
"""How long a caller gives each digit's pcap to play (7 packets + 3 end packets, 20 ms apart)."""
KEY_GAP = 0.41
"""Between the digits of one press: what the scenario plan reserves per key (outcome.py)."""
EVENTS = {**{str(n): n for n in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
          "D": 15}
"""RFC 4733 event codes of the keys."""

# The caller's one RTP stream: the opening silence, then every digit of the call continue it
# (same SSRC, sequence numbers and timestamps going up), as a phone's would. SIPp plays pcaps
# as they are, so each digit of a call gets its own pcap: SIPp's shipped digit pcaps all come
# from one old capture, and the same key twice (a PIN 2222) or a key of a lower capture
# timestamp after another would repeat or go back in the stream, which Asterisk drops as
# duplicates.
_SSRC, _SEQ, _TS = 0x0E05384E, 0x1F6A, 0x5AA0
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _record(n: int, usec: int, rtp: bytes) -> bytes:
    udp = struct.pack(">HHHH", 49176, 10000, 8 + len(rtp), 0) + rtp
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                     bytes([192, 168, 0, 3]), bytes([192, 168, 0, 1])) + udp
    frame = b"\0" * 12 + b"\x08\x00" + ip
    return struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame


def write_silence_pcap(path: Path, packets: int = 10) -> Path:
    """A pcap of `packets` 20 ms PCMU frames of silence, for SIPp's play_pcap_audio.

    Why a caller sends it: a real phone sends audio from the answer, and Asterisk's dialplan
    Answer() waits up to 500 ms for the first frame when none comes, which would charge the
    dialplan baseline for the generator's silence. It also lets strict RTP learn the address.
    """
    out = [_PCAP_HEADER]
    for n in range(packets):
        seq = (_SEQ - packets + n) & 0xFFFF
        rtp = struct.pack(">BBHII", 0x80, 0, seq, (_TS - 160 * (packets - n)) & 0xFFFFFFFF,
                          _SSRC) + b"\xff" * 160
        out.append(_record(n, n * 20000, rtp))
    path.write_bytes(b"".join(out))
    return path


def write_digit_pcap(path: Path, key: str, index: int, at: float) -> Path:
    """The RFC 4733 packets of the call's `index`-th digit (from 0), pressed `at` seconds after
    the answer: 7 packets 20 ms apart, then the end packet three times."""
    seq, ts = _SEQ + index * 10, (_TS + round(at * 8000)) & 0xFFFFFFFF
    out = [_PCAP_HEADER]
    for n in range(10):
        end = n >= 7
        payload = struct.pack(">BBH", EVENTS[key], 0x8A if end else 0x0A, 160 * min(n, 7))
        rtp = struct.pack(">BBHII", 0x80, (0x80 if n == 0 else 0) | 101, (seq + n) & 0xFFFF,
                          ts, _SSRC) + payload
        out.append(_record(n, min(n, 7) * 20000, rtp))
    path.write_bytes(b"".join(out))
    return path


@dataclass(frozen=True)
class KeyPress:
    """One press step: its keys, when the first is pressed, and what the report calls it."""

    keys: str
    at: float
    """Seconds from the answer to the first key; the others follow KEY_GAP apart."""
    name: str
    prompt_after: bool = True
    """A prompt is expected after it: its key->prompt latency is measured, and its absence is
    a failure."""

    def digit_times(self) -> list[float]:
        return [round(self.at + n * KEY_GAP, 3) for n in range(len(self.keys))]


@dataclass(frozen=True)
class CallerScript:
    """What every caller of the run does: dial, press keys at set times, then hang up at
    `end_at` or (`ivr_hangs_up`) wait until then for the IVR's BYE."""

    extension: str
    presses: tuple[KeyPress, ...] = ()
    end_at: float = 18.0
    """Seconds from the answer: when the caller hangs up, or gives up waiting for the IVR."""
    ivr_hangs_up: bool = True
    caller_id: str = "5550100"
    answer_timeout: float = 10.0
    name: str = ""
    """What the report calls the run (a scenario's name); empty: the extension."""

    @classmethod
    def keys_every(cls, extension: str, keys: str = "", key_wait: float = 10.0,
                   patience: float = 8.0, caller_id: str = "5550100") -> CallerScript:
        """The fixed form: a key every `key_wait` seconds from the answer (each after the one
        before has played), then the IVR must hang up within `patience` of the last."""
        presses, at = [], 0.0
        for n, key in enumerate(keys):
            at += key_wait
            presses.append(KeyPress(key, round(at, 3), f"key {n + 1} ({key})"))
            at += DTMF_PCAP_MS / 1000
        return cls(extension, tuple(presses), round(at + patience, 3), True, caller_id)

    @property
    def keys(self) -> str:
        return "".join(p.keys for p in self.presses)

    @property
    def label(self) -> str:
        return self.name or f"extension {self.extension}"


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


def write_media(script: CallerScript, folder: Path) -> tuple[Path, list[Path]]:
    """The opening silence and one pcap per digit of `script`, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    silence = write_silence_pcap(folder / "silence.pcap")
    digits, index = [], 0
    for press in script.presses:
        for key, at in zip(press.keys, press.digit_times(), strict=True):
            name = f"digit-{index + 1:02}-{EVENTS[key]}.pcap"
            digits.append(write_digit_pcap(folder / name, key, index, at))
            index += 1
    return silence, digits


def scenario_xml(script: CallerScript, silence: Path, digits: list[Path]) -> str:
    """The SIPp scenario for `script`; `silence` and `digits` are write_media's files."""
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
    now, files = 0.0, iter(digits)
    for press in script.presses:
        for at in press.digit_times():
            if at - now >= 0.001:
                steps.append(f'<pause milliseconds="{round((at - now) * 1000)}"/>')
                now = at
            steps.append('<nop><action><exec play_pcap_audio="'
                         f'{escape(str(next(files).resolve()))}"/></action></nop>')
            steps.append(f'<pause milliseconds="{DTMF_PCAP_MS}"/>')
            now += DTMF_PCAP_MS / 1000
    left = max(round((script.end_at - now) * 1000), 0)
    if script.ivr_hangs_up:
        steps += [f'<recv request="BYE" timeout="{left}" ontimeout="giveup"/>',
                  f"<send>{_msg(ok)}</send>",
                  '<nop next="end"/>',
                  '<label id="giveup"/>']
    elif left:
        steps.append(f'<pause milliseconds="{left}"/>')
    steps += [f"<send>{_msg(bye)}</send>",
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
