"""RTP from Asterisk's externalMedia channel to 20 ms frames of little-endian 16-bit audio.

Pure and synchronous, so every rule is unit-testable without sockets: header parsing (RFC 3550),
payload type and SSRC checks, sequence reordering, and the byte swap. Asterisk sends slin16 as
RTP "L16", which is network byte order (big-endian); recognizers and webrtcvad want
little-endian samples, so every sample is swapped here, once.

Asterisk's static payload type for slin16 is 118; RTCP (types 200-204) and anything else on the
port is dropped by the payload type check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
SLIN16_PAYLOAD_TYPE = 118
_HEADER = struct.Struct("!BBHII")
_SEQ_MOD = 1 << 16


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP packet: skips CSRCs and a header extension, strips padding."""
    if len(data) < _HEADER.size:
        raise RtpError(f"{len(data)} bytes is shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6}")
    offset = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte says how many bytes to drop
        if end == 0 or data[-1] == 0 or data[-1] > end - offset:
            raise RtpError("bad padding")
        end -= data[-1]
    if offset > end:
        raise RtpError("header longer than the packet")
    return RtpPacket(payload_type=second & 0x7F, sequence=sequence, timestamp=timestamp,
                     ssrc=ssrc, payload=bytes(data[offset:end]), marker=bool(second & 0x80))


def build_rtp(payload: bytes, *, sequence: int, timestamp: int, ssrc: int,
              payload_type: int = SLIN16_PAYLOAD_TYPE, marker: bool = False) -> bytes:
    """The packet Asterisk would send (tests and fakes use it)."""
    return _HEADER.pack(RTP_VERSION << 6, (0x80 if marker else 0) | payload_type,
                        sequence % _SEQ_MOD, timestamp & 0xFFFFFFFF, ssrc) + payload


def swap16(samples: bytes) -> bytes:
    """Swap the bytes of every 16-bit sample: big-endian L16 <-> little-endian PCM."""
    out = bytearray(len(samples))
    out[0::2] = samples[1::2]
    out[1::2] = samples[0::2]
    return bytes(out)


class Reorder:
    """Puts packets of one stream back in sequence order, with sequence numbers wrapping at 2^16.

    A packet that arrives ahead of a missing one waits; once `depth` packets wait, the missing
    ones are declared lost (None each, so the caller can keep time with silence). Late and
    duplicate packets are dropped. A jump of more than `max_jump` either way is a new stream
    (the sender restarted): follow it without inventing seconds of silence.
    """

    def __init__(self, depth: int = 3, max_jump: int = 100) -> None:
        self.depth = depth
        self.max_jump = max_jump
        self._expected: int | None = None
        self._waiting: dict[int, RtpPacket] = {}
        self.late = 0
        self.lost = 0
        self.resyncs = 0

    def reset(self) -> None:
        self._expected = None
        self._waiting.clear()

    def push(self, packet: RtpPacket) -> list[RtpPacket | None]:
        if self._expected is None:
            self._expected = packet.sequence
        ahead = (packet.sequence - self._expected) % _SEQ_MOD
        if ahead >= _SEQ_MOD // 2:  # behind what was already handed on
            if _SEQ_MOD - ahead > self.max_jump:
                return self._resync(packet)
            self.late += 1
            return []
        if ahead > self.max_jump:
            return self._resync(packet)
        if packet.sequence in self._waiting:
            self.late += 1  # a duplicate of one that waits
            return []
        self._waiting[packet.sequence] = packet
        out = self._drain()
        if len(self._waiting) > self.depth:
            out += self._skip_gap()
        return out

    def _drain(self) -> list[RtpPacket | None]:
        out: list[RtpPacket | None] = []
        assert self._expected is not None
        while (packet := self._waiting.pop(self._expected, None)) is not None:
            out.append(packet)
            self._expected = (self._expected + 1) % _SEQ_MOD
        return out

    def _skip_gap(self) -> list[RtpPacket | None]:
        """Give up on the packets missing before the oldest one waiting."""
        assert self._expected is not None
        expected = self._expected
        first = min(self._waiting, key=lambda seq: (seq - expected) % _SEQ_MOD)
        missing = (first - expected) % _SEQ_MOD
        self.lost += missing
        self._expected = first
        return [None] * missing + self._drain()

    def _resync(self, packet: RtpPacket) -> list[RtpPacket | None]:
        self.resyncs += 1
        self._waiting.clear()
        self._expected = (packet.sequence + 1) % _SEQ_MOD
        return [packet]


@dataclass
class RtpStats:
    """What happened to the datagrams received, for logs and tests."""

    received: int = 0
    accepted: int = 0
    malformed: int = 0
    wrong_payload_type: int = 0
    foreign_source: int = 0
    foreign_ssrc: int = 0
    ssrc_changes: int = 0
    frames: int = 0


class Depacketizer:
    """Datagrams in, fixed-size frames of little-endian samples out.

    Only `payload_type` is accepted, only from `source` once known. The first SSRC is locked
    in; another one is taken over only after `ssrc_takeover` packets in a row (a sender that
    really changed source, not a stray packet), and then the stream starts afresh.
    """

    def __init__(self, *, payload_type: int = SLIN16_PAYLOAD_TYPE, sample_rate: int = 16000,
                 frame_ms: int = 20, reorder_depth: int = 3, ssrc_takeover: int = 3) -> None:
        self.payload_type = payload_type
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self.source: tuple[str, int] | None = None
        self.stats = RtpStats()
        self.reorder = Reorder(depth=reorder_depth)
        self._ssrc: int | None = None
        self._candidate: tuple[int, int] | None = None  # (ssrc, packets in a row)
        self._ssrc_takeover = ssrc_takeover
        self._pending = bytearray()
        self._last_size = 0

    def feed(self, data: bytes, addr: tuple[str, int] | None = None) -> list[bytes]:
        """One datagram; the whole frames it completes (possibly none)."""
        stats = self.stats
        stats.received += 1
        if self.source is not None and addr is not None and tuple(addr[:2]) != self.source:
            stats.foreign_source += 1
            return []
        try:
            packet = parse_rtp(data)
        except RtpError:
            stats.malformed += 1
            return []
        if packet.payload_type != self.payload_type:
            stats.wrong_payload_type += 1
            return []
        if len(packet.payload) % 2:
            stats.malformed += 1
            return []
        if not self._accept_ssrc(packet.ssrc):
            stats.foreign_ssrc += 1
            return []
        stats.accepted += 1
        for item in self.reorder.push(packet):
            if item is None:  # lost: keep time with silence the size of the last packet
                self._pending += bytes(self._last_size)
            else:
                self._last_size = len(item.payload)
                self._pending += swap16(item.payload)
        return self._cut()

    def _accept_ssrc(self, ssrc: int) -> bool:
        if self._ssrc is None or ssrc == self._ssrc:
            self._ssrc = ssrc
            self._candidate = None
            return True
        count = self._candidate[1] + 1 if self._candidate and self._candidate[0] == ssrc else 1
        self._candidate = (ssrc, count)
        if count < self._ssrc_takeover:
            return False
        self.stats.ssrc_changes += 1
        self._ssrc, self._candidate = ssrc, None
        self.reorder.reset()
        self._pending.clear()
        return True

    def _cut(self) -> list[bytes]:
        size = self.frame_bytes
        count = len(self._pending) // size
        frames = [bytes(self._pending[i * size:(i + 1) * size]) for i in range(count)]
        del self._pending[:count * size]
        self.stats.frames += count
        return frames
