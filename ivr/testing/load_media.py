"""What a load run's callers send, as pcaps for SIPp's play_pcap_audio: the opening silence,
an RFC 4733 pcap per digit and a PCMU pcap per utterance.

Every call is one RTP stream, as a phone's: the opening silence, then every digit and every
utterance of the script continue it (same SSRC, sequence numbers going up where the pcap before
ended, timestamps from the time the script plays it). SIPp plays pcaps as they are, so each
action gets a pcap of its own: SIPp's shipped digit pcaps all come from one old capture, and the
same key twice (a PIN 2222) or a key of a lower capture timestamp after another would repeat or
go back in the stream, which Asterisk drops as duplicates.

The files are written once per run and shared by every call (SIPp puts each call's own ports
on them), so what speech costs the generator is SIPp sending 50 packets a second per speaking
caller; the encoding here is done once, before the first call.
"""

from __future__ import annotations

import struct
from pathlib import Path

from .audio import load_wav, ulaw_encode
from .load_sipp import EVENTS, PACKET_SAMPLES, CallerScript, KeyPress, Utterance

DIGIT_PACKETS = 10
"""Packets of one digit's pcap: 7 while the key is down, then the end packet three times."""
SILENCE = 0xFF
"""The µ-law code of a zero sample."""

_SSRC, _SEQ, _TS = 0x0E05384E, 0x1F6A, 0x5AA0
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _record(n: int, usec: int, rtp: bytes) -> bytes:
    udp = struct.pack(">HHHH", 49176, 10000, 8 + len(rtp), 0) + rtp
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                     bytes([192, 168, 0, 3]), bytes([192, 168, 0, 1])) + udp
    frame = b"\0" * 12 + b"\x08\x00" + ip
    return struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame


def _rtp(payload_type: int, marker: bool, seq: int, timestamp: int) -> bytes:
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF,
                       timestamp & 0xFFFFFFFF, _SSRC)


def write_silence_pcap(path: Path, packets: int = 10) -> Path:
    """A pcap of `packets` 20 ms PCMU frames of silence, for SIPp's play_pcap_audio.

    Why a caller sends it: a real phone sends audio from the answer, and Asterisk's dialplan
    Answer() waits up to 500 ms for the first frame when none comes, which would charge the
    dialplan baseline for the generator's silence. It also lets strict RTP learn the address.
    Its sequence numbers and timestamps end where the answer's (the first action's) begin.
    """
    out = [_PCAP_HEADER]
    for n in range(packets):
        rtp = _rtp(0, False, _SEQ - packets + n, _TS - PACKET_SAMPLES * (packets - n))
        out.append(_record(n, n * 20000, rtp + bytes([SILENCE]) * PACKET_SAMPLES))
    path.write_bytes(b"".join(out))
    return path


def write_digit_pcap(path: Path, key: str, seq: int, at: float) -> Path:
    """The RFC 4733 packets of one digit pressed `at` seconds after the answer, numbered from
    `seq` on: 7 packets 20 ms apart, then the end packet three times (DIGIT_PACKETS)."""
    ts = _TS + round(at * 8000)
    out = [_PCAP_HEADER]
    for n in range(DIGIT_PACKETS):
        end = n >= 7
        payload = struct.pack(">BBH", EVENTS[key], 0x8A if end else 0x0A,
                              PACKET_SAMPLES * min(n, 7))
        out.append(_record(n, min(n, 7) * 20000, _rtp(101, n == 0, seq + n, ts) + payload))
    path.write_bytes(b"".join(out))
    return path


def speech_codes(said: Utterance) -> bytes:
    """The utterance's WAV as PCMU (resampled to 8 kHz mono by the test tools' reader), cut or
    padded with silence to whole packets, then its tail of silence."""
    codes = ulaw_encode(load_wav(said.wav)).tobytes()
    clip = said.packets * PACKET_SAMPLES
    codes = codes[:clip].ljust(clip, bytes([SILENCE]))
    return codes + bytes([SILENCE]) * (said.tail_packets * PACKET_SAMPLES)


def write_speech_pcap(path: Path, said: Utterance, seq: int) -> Path:
    """The PCMU packets of one utterance, numbered from `seq` on, its first packet's timestamp
    `said.at` seconds after the answer's and a packet every 20 ms. The first has the marker bit,
    as a talkspurt after silence has (RFC 3551): the judge counts utterances by it."""
    codes = speech_codes(said)
    ts = _TS + round(said.at * 8000)
    out = [_PCAP_HEADER]
    for n, start in enumerate(range(0, len(codes), PACKET_SAMPLES)):
        rtp = _rtp(0, n == 0, seq + n, ts + start)
        out.append(_record(n, n * 20000, rtp + codes[start:start + PACKET_SAMPLES]))
    path.write_bytes(b"".join(out))
    return path


def write_media(script: CallerScript, folder: Path) -> tuple[Path, list[Path]]:
    """The opening silence, and the pcaps of `script`'s actions in the order they are played
    (one per digit, one per utterance), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    silence = write_silence_pcap(folder / "silence.pcap")
    plays: list[Path] = []
    seq, digits, says = _SEQ, 0, 0
    for action in script.actions:
        if isinstance(action, KeyPress):
            for key, at in zip(action.keys, action.digit_times(), strict=True):
                digits += 1
                name = f"digit-{digits:02}-{EVENTS[key]}.pcap"
                plays.append(write_digit_pcap(folder / name, key, seq, at))
                seq += DIGIT_PACKETS
        else:
            says += 1
            plays.append(write_speech_pcap(folder / f"say-{says:02}.pcap", action, seq))
            seq += action.packets + action.tail_packets
    return silence, plays

