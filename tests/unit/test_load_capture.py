"""`ivr load`'s judge: the pcap reader, the per-call analysis and the SIPp scenario, on
captures written here (no SIPp, no tcpdump, no Asterisk)."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from ivr.testing.load_calls import ANSWER_STEP, KEY_STEP, CallBook, percentile
from ivr.testing.load_media import write_media
from ivr.testing.load_pcap import PcapReader, parse_rtp, parse_sip, ulaw_to_linear
from ivr.testing.load_sipp import CallerScript, scenario_xml

SIP, CALLER_SIP, CALLER_RTP, IVR_RTP = 5060, 5070, 20000, 10000
LOUD, QUIET = bytes([0x20]) * 160, b"\xff" * 160


def frame(src: int, dst: int, payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", src, dst, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     b"\x7f\0\0\1", b"\x7f\0\0\1") + udp
    return b"\0" * 12 + b"\x08\x00" + ip


def pcap(packets: list[tuple[float, bytes]]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, data in packets:
        out.append(struct.pack("<IIII", int(ts), round((ts % 1) * 1e6), len(data), len(data))
                   + data)
    return b"".join(out)


def sip(first: str, call_id: str, cseq: str, port: int | None = None) -> bytes:
    body = f"v=0\r\nm=audio {port} RTP/AVP 0 101\r\n" if port else ""
    return (f"{first}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def rtp(payload_type: int, seq: int, payload: bytes, timestamp: int = 0) -> bytes:
    return struct.pack(">BBHII", 0x80, payload_type, seq, timestamp, 1) + payload


def a_call(call_id: str = "c1", bye_from_ivr: bool = True, prompt_after_key: bool = True,
           port: int = CALLER_RTP) -> list[tuple[float, bytes]]:
    """Invite at 0, answer at 1, audio from 1.05 to 2, key ending at 3, audio at 3.03; the
    caller's RTP on `port` (each call of a run has its own)."""
    caller_rtp = port
    p = [(0.0, frame(CALLER_SIP, SIP, sip("INVITE sip:101@h SIP/2.0", call_id, "1 INVITE",
                                        caller_rtp))),
         (1.0, frame(SIP, CALLER_SIP, sip("SIP/2.0 200 OK", call_id, "1 INVITE", IVR_RTP)))]
    p += [(1.01, frame(IVR_RTP, caller_rtp, rtp(0, 1, QUIET)))]
    p += [(1.05 + 0.02 * n, frame(IVR_RTP, caller_rtp, rtp(0, 2 + n, LOUD))) for n in range(48)]
    for n in range(3):  # the end packet, sent three times
        p.append((3.0 + 0.02 * n, frame(caller_rtp, IVR_RTP,
                                        rtp(101, 50 + n, bytes([2, 0x8A, 0, 160]), 777))))
    if prompt_after_key:
        p += [(3.03 + 0.02 * n, frame(IVR_RTP, caller_rtp, rtp(0, 60 + n, LOUD)))
              for n in range(10)]
    src, dst = (SIP, CALLER_SIP) if bye_from_ivr else (CALLER_SIP, SIP)
    p.append((9.0, frame(src, dst, sip("BYE sip:x SIP/2.0", call_id, "2 BYE"))))
    return p


def test_ulaw_decodes_per_g711() -> None:
    assert ulaw_to_linear(0xFF) == 0 and ulaw_to_linear(0x7F) == 0
    assert ulaw_to_linear(0x80) == 32124 and ulaw_to_linear(0x00) == -32124


def test_one_good_call_gives_both_latencies(tmp_path: Path) -> None:
    (tmp_path / "c.pcap").write_bytes(pcap(a_call()))
    book = CallBook()
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    summary = book.summary()
    assert (summary.attempted, summary.completed, summary.failed) == (1, 1, {})
    (answer,), (key,) = summary.steps[ANSWER_STEP], summary.steps[KEY_STEP]
    assert abs(answer - 0.05) < 1e-3, "silence is not audio"
    assert abs(key - 0.03) < 1e-3, "from the first end packet, not its repeats"


def test_failures_are_named(tmp_path: Path) -> None:
    packets = a_call("gave-up", bye_from_ivr=False) + \
        a_call("silent", prompt_after_key=False, port=20008)
    rejected = [(0.0, frame(CALLER_SIP, SIP, sip("INVITE sip:1 SIP/2.0", "r", "1 INVITE",
                                                 20004))),
                (0.1, frame(SIP, CALLER_SIP, sip("SIP/2.0 503 Busy", "r", "1 INVITE")))]
    (tmp_path / "c.pcap").write_bytes(pcap(sorted(packets + rejected, key=lambda p: p[0])))
    book = CallBook()
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    assert book.summary().failed == {
        "caller hung up (no hang-up by the IVR in time)": 1, "no prompt after key": 1,
        "rejected 503": 1}


def test_other_sip_traffic_is_not_a_call_of_the_run(tmp_path: Path) -> None:
    stranger = [(0.5, frame(5080, SIP, sip("INVITE sip:101@h SIP/2.0", "x", "1 INVITE", 20040)))]
    (tmp_path / "c.pcap").write_bytes(pcap(sorted(a_call() + stranger, key=lambda p: p[0])))
    book = CallBook(caller_port=CALLER_SIP)
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    assert list(book.calls) == ["c1"]


def test_a_growing_capture_is_read_in_whole_records(tmp_path: Path) -> None:
    data = pcap(a_call())
    path = tmp_path / "c.pcap"
    reader, seen = PcapReader(path), []
    for cut in (10, 30, 500, 1000, len(data)):  # tcpdump writes as it goes
        path.write_bytes(data[:cut])
        seen += reader.read()
    assert len(seen) == len(a_call()) == reader.packets


def test_barge_in_waits_for_the_gap_before_the_next_prompt(tmp_path: Path) -> None:
    """Audio still playing when the key ends is the old prompt: the new one starts after it."""
    p = a_call()[:2]
    p += [(1.05 + 0.02 * n, frame(IVR_RTP, CALLER_RTP, rtp(0, 2 + n, LOUD))) for n in range(150)]
    p.append((3.0, frame(CALLER_RTP, IVR_RTP, rtp(101, 500, bytes([2, 0x8A, 0, 160]), 5))))
    p += [(4.2 + 0.02 * n, frame(IVR_RTP, CALLER_RTP, rtp(0, 200 + n, LOUD))) for n in range(5)]
    (tmp_path / "c.pcap").write_bytes(pcap(sorted(p, key=lambda x: x[0])))
    book = CallBook()
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    (key,) = book.summary().steps[KEY_STEP]
    assert abs(key - 1.2) < 1e-3


def test_sip_and_rtp_parsing() -> None:
    message = parse_sip(sip("SIP/2.0 200 OK", "abc", "1 INVITE", 10002))
    assert message is not None and message.status == 200 and message.media_port == 10002
    assert message.cseq_method == "INVITE" and not message.is_request
    assert parse_sip(b"\x80\x00 not sip") is None
    header = parse_rtp(rtp(101, 7, b"\x02\x8a\x00\xa0", 99))
    assert header is not None and (header.payload_type, header.seq) == (101, 7)


def test_scenario_is_sipp_xml_with_a_key_after_each_wait(tmp_path: Path) -> None:
    script = CallerScript.keys_every("101", "21", key_wait=4.0)
    silence, digits = write_media(script, tmp_path)
    datagrams = PcapReader(silence).read()
    assert len(datagrams) == 10 and all(len(d.payload) == 172 for d in datagrams)
    root = ET.fromstring(scenario_xml(script, silence, digits))
    plays = [e.get("play_pcap_audio") or "" for e in root.iter("exec")]
    assert plays[0] == str(silence)
    assert [Path(p).name for p in plays[1:]] == ["digit-01-2.pcap", "digit-02-1.pcap"]
    assert [e.get("milliseconds") for e in root.iter("pause")] == ["4000", "200", "4000", "200"]
    bye = root.find("recv[@request='BYE']")
    assert bye is not None and bye.get("timeout") == "8000", "the patience after the last key"


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 95) == 95.0 and percentile(values, 100) == 100.0
    assert percentile([], 50) is None and percentile([3.0], 50) == 3.0
