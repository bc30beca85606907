"""The SIPp side of a load run: the caller's scenario, the command line, its live counters.

Why SIPp: one C++ process holds hundreds of calls for a few percent of a core (a pjsua2
phone per call costs a process and a jitter buffer each, and would decide the result on two
cores). SIPp cannot hear, so it only signals and plays pcaps; the packet capture judges audio.

Each call: INVITE offering PCMU and telephone-event/8000, ACK, then for every action of the
caller's script a pause until its time (seconds from the answer) and the pcap written for it
(load_media.py: an RFC 4733 pcap per digit, a PCMU pcap per utterance), then either the IVR's
BYE by the script's end (if none comes, the caller hangs up itself, and the analysis counts
that as a failure) or, where the script hangs up, a pause and the caller's BYE. The SDP
port is `[auto_media_port]` (the -mp base + 4 per call number): every call has its own port,
which is how the capture tells the calls' RTP apart. SIPp opens no socket there (pcap play
sends raw packets), so Asterisk's audio to it costs the generator nothing.
"""

from __future__ import annotations

import contextlib
import csv
import math
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from .outcome import wav_seconds
from .ports import SIPP_MEDIA

DTMF_PCAP_MS = 200
"""How long a caller gives each digit's pcap to play (7 packets + 3 end packets, 20 ms apart)."""
KEY_GAP = 0.41
"""Between the digits of one press: what the scenario plan reserves per key (outcome.py)."""
EVENTS = {**{str(n): n for n in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
          "D": 15}
"""RFC 4733 event codes of the keys."""
PACKET_SAMPLES = 160
"""Samples of one 20 ms PCMU packet at 8 kHz."""
SPEECH_TAIL = 1.0
"""Seconds of silence a caller sends after an utterance, as a phone goes on sending audio: the
app's VAD ends speech after 600 ms without a voiced frame (media/vad.py `end_ms`), and a line
that went quiet would leave it waiting for frames that never come."""


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

    def plays(self) -> list[tuple[float, float]]:
        """(when, for how long) each of its pcaps plays: one per digit."""
        return [(at, DTMF_PCAP_MS / 1000) for at in self.digit_times()]


@dataclass(frozen=True)
class Utterance:
    """One say step: the caller speaks a WAV at `at` (seconds from the answer), then stays on
    the line silent for `tail` seconds; `seconds` is the WAV's length."""

    wav: Path
    at: float
    name: str
    seconds: float
    prompt_after: bool = True
    """A prompt is expected after it: end of speech -> prompt is measured, and its absence is a
    failure."""
    tail: float = SPEECH_TAIL

    @property
    def packets(self) -> int:
        """Packets of the spoken WAV (its last one padded with silence)."""
        return math.ceil(round(self.seconds * 8000) / PACKET_SAMPLES)

    @property
    def tail_packets(self) -> int:
        return max(round(self.tail * 8000 / PACKET_SAMPLES), 0)

    def plays(self) -> list[tuple[float, float]]:
        """(when, for how long) its one pcap plays: the speech and the tail."""
        return [(self.at, (self.packets + self.tail_packets) * PACKET_SAMPLES / 8000)]


@dataclass(frozen=True)
class CallerScript:
    """What every caller of the run does: dial, press keys and speak at set times (`actions`,
    in the order they are played), then hang up at `end_at` or (`ivr_hangs_up`) wait until
    then for the IVR's BYE."""

    extension: str
    actions: tuple[KeyPress | Utterance, ...] = ()
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

    @classmethod
    def says_every(cls, extension: str, wavs: Sequence[Path], key_wait: float = 10.0,
                   patience: float = 8.0, caller_id: str = "5550100") -> CallerScript:
        """The fixed form spoken: each WAV `key_wait` seconds after the answer or after the
        one before and its tail, then the IVR must hang up within `patience` of the last."""
        says, at = [], 0.0
        for n, wav in enumerate(wavs):
            at += key_wait
            said = Utterance(wav, round(at, 3), f"say {n + 1} ({wav.name})", wav_seconds(wav))
            says.append(said)
            at += said.plays()[0][1]
        return cls(extension, tuple(says), round(at + patience, 3), True, caller_id)

    @property
    def presses(self) -> tuple[KeyPress, ...]:
        return tuple(a for a in self.actions if isinstance(a, KeyPress))

    @property
    def says(self) -> tuple[Utterance, ...]:
        return tuple(a for a in self.actions if isinstance(a, Utterance))

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


def scenario_xml(script: CallerScript, silence: Path, plays: list[Path]) -> str:
    """The SIPp scenario for `script`; `silence` and `plays` are write_media's files (a pcap
    per digit and per utterance, in the order they are played)."""
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
    # A pcap plays in its own thread and SIPp stops it when the call plays the next one, so
    # the scenario pauses for each pcap's length before the next action.
    now, files = 0.0, iter(plays)
    for action in script.actions:
        for at, length in action.plays():
            if at - now >= 0.001:
                steps.append(f'<pause milliseconds="{round((at - now) * 1000)}"/>')
                now = at
            steps.append('<nop><action><exec play_pcap_audio="'
                         f'{escape(str(next(files).resolve()))}"/></action></nop>')
            steps.append(f'<pause milliseconds="{round(length * 1000)}"/>')
            now += length
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
    media_port: int = SIPP_MEDIA.start
    control_port: int = 8889
    local_ip: str = "127.0.0.1"

    def command(self, sipp: str = "sipp") -> list[str]:
        return [sipp, self.target, "-sf", str(self.scenario), "-i", self.local_ip,
                "-mi", self.local_ip, "-p", str(self.local_port), "-mp", str(self.media_port),
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
    """The lowest and highest port [auto_media_port] takes: base + (4 * (n - 1) modulo
    10000), so every one is base modulo 4."""
    return run.media_port, run.media_port + len(SIPP_MEDIA) - 4


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
