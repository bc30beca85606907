"""Reading the load run's packet capture: classic pcap, UDP over IPv4, SIP and RTP.

Why our own reader: a load run needs only UDP over IPv4 on loopback, and it reads the capture
while tcpdump is still writing it (a live percentile), so the reader must resume at the last
whole record. The classic pcap format is a 24-byte header and 16-byte record headers; that is
less code than a dependency, and nothing here allocates per packet beyond the payload slice.

Audio is judged per RTP packet: a PCMU packet is *loud* when enough of its samples are above
a threshold. `bytes.translate` with a table of the quiet µ-law codes does that in C, so the
generator's own cost stays small at tens of thousands of packets a second.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD_LE = struct.Struct("<IIII")
_RECORD_BE = struct.Struct(">IIII")
_MAGIC_US, _MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D

# Link types: how many bytes precede the IPv4 header (None: look at the frame).
LINK_NULL, LINK_ETHERNET, LINK_RAW, LINK_SLL, LINK_SLL2 = 0, 1, 101, 113, 276
_LINK_HEADER = {LINK_NULL: 4, LINK_ETHERNET: 14, LINK_RAW: 0, LINK_SLL: 16, LINK_SLL2: 20}

PCMU = 0
TELEPHONE_EVENT = 101


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram as captured: when, from which port to which, and its payload."""

    ts: float
    src: int
    dst: int
    payload: bytes


def ulaw_to_linear(code: int) -> int:
    """G.711 µ-law code to a 16-bit linear sample (ITU-T G.711)."""
    code = ~code & 0xFF
    magnitude = ((code & 0x0F) << 3) + 0x84
    magnitude <<= (code & 0x70) >> 4
    return (0x84 - magnitude) if code & 0x80 else (magnitude - 0x84)


def quiet_codes(threshold: int) -> bytes:
    """The µ-law codes whose sample is within ±threshold: what counts as silence."""
    return bytes(c for c in range(256) if abs(ulaw_to_linear(c)) <= threshold)


class PcapReader:
    """Reads a pcap file that may still be growing: `read()` returns the datagrams of every
    whole record written since the last call, and keeps a partial record for the next one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._link: int | None = None
        self._record = _RECORD_LE
        self._ns = False
        self.packets = 0

    def read(self) -> list[Datagram]:
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return []
        out: list[Datagram] = []
        used = self._parse(data, out)
        self._offset += used
        return out

    def _parse(self, data: bytes, out: list[Datagram]) -> int:
        pos = 0
        if self._link is None:
            if len(data) < _GLOBAL.size:
                return 0
            magic = struct.unpack_from("<I", data)[0]
            if magic in (_MAGIC_US, _MAGIC_NS):
                self._record = _RECORD_LE
                fields = _GLOBAL.unpack_from(data)
            else:
                self._record = _RECORD_BE
                fields = struct.unpack_from(">IHHiIII", data)
                magic = fields[0]
            if magic not in (_MAGIC_US, _MAGIC_NS):
                raise ValueError(f"{self.path}: not a classic pcap file")
            self._ns = magic == _MAGIC_NS
            self._link = fields[6]
            pos = _GLOBAL.size
        record, size = self._record, self._record.size
        scale = 1e-9 if self._ns else 1e-6
        link = self._link
        while pos + size <= len(data):
            sec, frac, incl, _orig = record.unpack_from(data, pos)
            if pos + size + incl > len(data):
                break
            frame = data[pos + size:pos + size + incl]
            pos += size + incl
            self.packets += 1
            datagram = _udp(frame, link, sec + frac * scale)
            if datagram is not None:
                out.append(datagram)
        return pos


def _udp(frame: bytes, link: int, ts: float) -> Datagram | None:
    """The UDP datagram in one captured frame, or None (not IPv4/UDP, or a fragment)."""
    start = _LINK_HEADER.get(link)
    if start is None:
        return None
    if link == LINK_ETHERNET and frame[12:14] != b"\x08\x00":
        return None
    if len(frame) < start + 28 or frame[start] >> 4 != 4 or frame[start + 9] != 17:
        return None
    ihl = (frame[start] & 0x0F) * 4
    if struct.unpack_from(">H", frame, start + 6)[0] & 0x3FFF:
        return None  # fragmented: loopback's MTU makes that rare enough to ignore
    udp = start + ihl
    src, dst, length = struct.unpack_from(">HHH", frame, udp)
    return Datagram(ts, src, dst, frame[udp + 8:udp + length])


@dataclass(frozen=True, slots=True)
class SipMessage:
    """What the analysis needs of one SIP message."""

    first_line: str
    call_id: str
    cseq_method: str
    media_port: int | None
    """The m=audio port of its SDP, if it has one."""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0] if self.is_request else ""

    @property
    def status(self) -> int:
        if self.is_request:
            return 0
        parts = self.first_line.split(" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_sip(payload: bytes) -> SipMessage | None:
    """A SIP message's first line, Call-ID, CSeq method and SDP audio port; None if it is not
    SIP (a stray datagram on the port)."""
    text = payload.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or "SIP/2.0" not in lines[0]:
        return None
    call_id = cseq = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in ("call-id", "i"):
            call_id = value.strip()
        elif name == "cseq":
            cseq = value.split()[-1] if value.split() else ""
    port = None
    for line in body.splitlines():
        if line.startswith("m=audio "):
            fields = line.split()
            port = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return SipMessage(lines[0], call_id, cseq.upper(), port)


@dataclass(frozen=True, slots=True)
class RtpHeader:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    payload_offset: int


def parse_rtp(payload: bytes) -> RtpHeader | None:
    """The fixed RTP header (CSRCs and a header extension skipped); None if not RTP v2."""
    if len(payload) < 12 or payload[0] >> 6 != 2:
        return None
    offset = 12 + 4 * (payload[0] & 0x0F)
    if payload[0] & 0x10 and len(payload) >= offset + 4:
        offset += 4 + 4 * struct.unpack_from(">H", payload, offset + 2)[0]
    seq, timestamp = struct.unpack_from(">HI", payload, 2)
    return RtpHeader(payload[1] & 0x7F, bool(payload[1] & 0x80), seq, timestamp, offset)


def event_end(payload: bytes, header: RtpHeader) -> tuple[int, bool] | None:
    """An RFC 4733 (2833) event packet's (event, end bit); None for any other payload."""
    if header.payload_type != TELEPHONE_EVENT or len(payload) < header.payload_offset + 4:
        return None
    body = payload[header.payload_offset:]
    return body[0], bool(body[1] & 0x80)


def datagrams(path: Path) -> Iterator[Datagram]:
    """Every UDP datagram of a finished capture."""
    yield from PcapReader(path).read()
