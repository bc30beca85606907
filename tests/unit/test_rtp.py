"""RTP from externalMedia: headers built by hand, byte order, payload type, SSRC, reordering."""

from __future__ import annotations

import array
import asyncio
import socket
import struct
import sys

import pytest

from ivr.media.rtp import (
    SLIN16_PAYLOAD_TYPE,
    Depacketizer,
    Reorder,
    RtpError,
    RtpPacket,
    build_rtp,
    parse_rtp,
    swap16,
)
from ivr.media.stream import FRAME_BYTES, RtpReceiver

SAMPLES = 320  # 20 ms at 16 kHz


def be_samples(values: list[int]) -> bytes:
    """What Asterisk puts in an L16 payload: network byte order."""
    return struct.pack(f">{len(values)}h", *values)


def le_values(frame: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(frame) // 2}h", frame))


def packet(seq: int, fill: int = 0, *, ssrc: int = 0x1234, pt: int = SLIN16_PAYLOAD_TYPE,
           samples: int = SAMPLES) -> bytes:
    return build_rtp(be_samples([fill] * samples), sequence=seq, timestamp=seq * samples,
                     ssrc=ssrc, payload_type=pt)


# --- header parsing ---------------------------------------------------------------------


def test_header_fields_by_hand() -> None:
    payload = be_samples([1, -2, 300])
    data = bytes([0x80, 0x80 | 118, 0xFF, 0xFE, 0, 0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF])
    pkt = parse_rtp(data + payload)
    assert pkt == RtpPacket(payload_type=118, sequence=0xFFFE, timestamp=0x1234,
                            ssrc=0xDEADBEEF, payload=payload, marker=True)


def test_csrcs_extension_and_padding_are_skipped() -> None:
    payload = be_samples([7, 8])
    first = 0x80 | 0x20 | 0x10 | 2  # padding, extension, two CSRCs
    header = bytes([first, 118]) + struct.pack("!HII", 5, 160, 42)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xAA\x00\x00"
    padding = b"\x00\x00\x03"
    pkt = parse_rtp(header + csrcs + extension + payload + padding)
    assert (pkt.sequence, pkt.ssrc, pkt.payload) == (5, 42, payload)


@pytest.mark.parametrize("data", [
    b"", b"\x80" * 11,
    bytes([0x40, 118]) + bytes(10),  # version 1
    bytes([0x8F, 118]) + bytes(10),  # 15 CSRCs announced, none there
    bytes([0x90, 118]) + bytes(10) + b"\x00\x00\x00\x05",  # extension longer than the packet
    bytes([0xA0, 118]) + bytes(10) + b"\x01\x02\x00",  # padding count 0
    bytes([0xA0, 118]) + bytes(10) + b"\x01\x02\x09",  # padding longer than the payload
])
def test_malformed_packets_raise(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


# --- byte order -------------------------------------------------------------------------


def test_big_endian_payload_becomes_little_endian_samples() -> None:
    values = [0, 1, -1, 256, -256, 32767, -32768, 0x1234]
    assert swap16(be_samples(values)) == struct.pack(f"<{len(values)}h", *values)
    assert swap16(swap16(b"\x01\x02\x03\x04")) == b"\x01\x02\x03\x04"


def test_frames_hold_the_sample_values_asterisk_sent() -> None:
    ramp = [(i * 97) % 65536 - 32768 for i in range(SAMPLES)]
    depack = Depacketizer()
    (frame,) = depack.feed(build_rtp(be_samples(ramp), sequence=1, timestamp=0, ssrc=9))
    assert len(frame) == FRAME_BYTES == 640
    assert le_values(frame) == ramp
    native = array.array("h", frame)  # what numpy / webrtcvad read on this machine
    if sys.byteorder == "little":
        assert native.tolist() == ramp


def test_payload_sizes_are_reframed_to_20_ms() -> None:
    depack = Depacketizer()
    frames: list[bytes] = []
    for seq in range(6):  # 6 x 10 ms packets -> 3 frames
        frames += depack.feed(packet(seq, fill=seq, samples=160))
    assert len(frames) == 3 and all(len(f) == 640 for f in frames)
    assert le_values(frames[1]) == [2] * 160 + [3] * 160
    frames = depack.feed(packet(6, fill=6, samples=480))  # a 30 ms packet: one frame, half left
    assert len(frames) == 1 and depack.feed(packet(7, samples=160)) != []


# --- what is accepted ----------------------------------------------------------------------


def test_wrong_payload_type_rtcp_and_odd_payloads_are_dropped() -> None:
    depack = Depacketizer()
    assert depack.feed(packet(1, pt=0)) == []  # PCMU
    assert depack.feed(bytes([0x80, 200]) + bytes(26)) == []  # an RTCP sender report
    assert depack.feed(build_rtp(b"\x00" * 641, sequence=2, timestamp=0, ssrc=1)) == []
    assert depack.feed(b"garbage") == []
    stats = depack.stats
    assert (stats.wrong_payload_type, stats.malformed, stats.accepted) == (2, 2, 0)
    assert len(depack.feed(packet(3))) == 1


def test_packets_from_another_address_are_dropped_once_the_source_is_known() -> None:
    depack = Depacketizer()
    depack.source = ("127.0.0.1", 10002)
    assert depack.feed(packet(1), ("127.0.0.1", 10004)) == []
    assert len(depack.feed(packet(2), ("127.0.0.1", 10002))) == 1
    assert depack.stats.foreign_source == 1


def test_a_stray_ssrc_is_ignored_a_persistent_one_takes_over() -> None:
    depack = Depacketizer()
    assert len(depack.feed(packet(100, fill=1, ssrc=1))) == 1
    assert depack.feed(packet(5000, fill=2, ssrc=2)) == []  # one stray packet
    assert len(depack.feed(packet(101, fill=1, ssrc=1))) == 1
    out = [depack.feed(packet(7000 + i, fill=3, ssrc=3)) for i in range(4)]
    assert out[:2] == [[], []]  # not yet: could be strays
    assert [le_values(f)[0] for batch in out[2:] for f in batch] == [3, 3]
    assert depack.stats.ssrc_changes == 1 and depack.stats.foreign_ssrc == 3
    assert depack.feed(packet(102, ssrc=1)) == []  # the old one is now the stray


# --- reordering -------------------------------------------------------------------------


def seqs(items: list[RtpPacket | None]) -> list[int | None]:
    return [None if p is None else p.sequence for p in items]


def rtp(seq: int) -> RtpPacket:
    return RtpPacket(payload_type=118, sequence=seq, timestamp=0, ssrc=1, payload=b"")


def test_out_of_order_packets_come_out_in_order() -> None:
    reorder = Reorder(depth=3)
    out = []
    for seq in [10, 12, 11, 14, 13, 15]:
        out += reorder.push(rtp(seq))
    assert seqs(out) == [10, 11, 12, 13, 14, 15]
    assert reorder.lost == reorder.late == 0


def test_duplicates_and_late_packets_are_dropped() -> None:
    reorder = Reorder(depth=3)
    out = []
    for seq in [1, 2, 2, 3, 1, 4, 3]:
        out += reorder.push(rtp(seq))
    assert seqs(out) == [1, 2, 3, 4] and reorder.late == 3


def test_a_lost_packet_is_given_up_after_depth_packets_wait() -> None:
    reorder = Reorder(depth=3)
    out = reorder.push(rtp(1))
    for seq in [3, 4, 5]:
        out += reorder.push(rtp(seq))
    assert seqs(out) == [1]  # still hoping for 2
    out += reorder.push(rtp(6))
    assert seqs(out) == [1, None, 3, 4, 5, 6] and reorder.lost == 1
    assert reorder.push(rtp(2)) == [] and reorder.late == 1  # too late now


def test_sequence_numbers_wrap_at_65536() -> None:
    reorder = Reorder(depth=3)
    out = []
    for seq in [65534, 0, 65535, 1, 2]:
        out += reorder.push(rtp(seq))
    assert seqs(out) == [65534, 65535, 0, 1, 2]
    assert reorder.push(rtp(65535)) == []  # behind across the wrap: late, not a new stream


def test_a_big_jump_is_a_new_stream_not_seconds_of_silence() -> None:
    reorder = Reorder(depth=3, max_jump=100)
    reorder.push(rtp(10))
    assert seqs(reorder.push(rtp(30000))) == [30000]
    assert seqs(reorder.push(rtp(30001))) == [30001]
    assert seqs(reorder.push(rtp(5))) == [5]  # far behind: a restart too
    assert reorder.resyncs == 2 and reorder.lost == 0


def test_lost_packets_become_silence_so_time_is_kept() -> None:
    depack = Depacketizer(reorder_depth=2)
    frames: list[bytes] = []
    for seq in [1, 3, 4, 5]:
        frames += depack.feed(packet(seq, fill=seq))
    assert [le_values(f)[0] for f in frames] == [1, 0, 3, 4, 5]
    assert depack.reorder.lost == 1


# --- the asyncio socket -------------------------------------------------------------------


async def test_receiver_on_loopback_yields_frames_and_ends_when_closed() -> None:
    receiver = await RtpReceiver.open()
    host, port = receiver.address
    assert host == "127.0.0.1" and port > 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        receiver.expect_source(sender.getsockname())
        for seq in [1, 3, 2]:
            sender.sendto(packet(seq, fill=seq), (host, port))
        got = []
        async with asyncio.timeout(2):
            async for frame in receiver.frames():
                got.append(le_values(frame)[0])
                if len(got) == 3:
                    receiver.close()
    assert got == [1, 2, 3]
    await asyncio.wait_for(receiver.closed.wait(), 1)
    assert [f async for f in receiver.frames()] == []


async def test_a_slow_consumer_loses_the_oldest_frames_not_memory() -> None:
    receiver = await RtpReceiver.open(max_frames=5)
    for seq in range(12):
        receiver.datagram_received(packet(seq, fill=seq), ("127.0.0.1", 1))
    receiver.close()
    assert [le_values(f)[0] async for f in receiver.frames()] == [7, 8, 9, 10, 11]
    assert receiver.overflow == 7
