"""`ivr load` callers that speak: the PCMU pcap written from a WAV (read back with the load
run's own pcap reader), its place in the call's one RTP stream and in SIPp's XML, the judge's
end of speech -> prompt on a capture made of those very packets, and the scenario and CLI
plumbing (no SIPp, no Asterisk). The utterances are real recorded digits (tests/data/fsdd, CC
BY-SA 4.0, see its README)."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ivr.app.paths import project_root
from ivr.media.prompts import PromptLibrary
from ivr.testing.audio import load_wav, save_wav, ulaw_encode
from ivr.testing.load_calls import (
    ANSWER_STEP,
    KEY_STEP,
    LOUD_SAMPLES,
    LOUD_THRESHOLD,
    SPEECH_STEP,
    CallBook,
    Expected,
    Step,
    step_name,
)
from ivr.testing.load_cli import build_parser, caller_script
from ivr.testing.load_media import write_media, write_speech_pcap
from ivr.testing.load_pcap import PCMU, Datagram, PcapReader, RtpHeader, parse_rtp, quiet_codes
from ivr.testing.load_scenario import scenario_script
from ivr.testing.load_sipp import SPEECH_TAIL, CallerScript, KeyPress, Utterance, scenario_xml
from ivr.testing.outcome import plan, wav_seconds
from ivr.testing.scenario import Say, load_scenario

from .test_load_capture import CALLER_RTP, CALLER_SIP, IVR_RTP, LOUD, SIP, frame, pcap, rtp, sip

ROOT = project_root()
PROMPTS = PromptLibrary(ROOT / "prompts")
TWO = ROOT / "tests/data/fsdd/2_jackson_0.wav"
"""Jackson saying "two" (8 kHz, 0.5 s)."""


def said(wav: Path = TWO, at: float = 10.0, tail: float = SPEECH_TAIL) -> Utterance:
    return Utterance(wav, at, "say two", wav_seconds(wav), tail=tail)


def test_the_speech_pcap_is_the_wav_as_pcmu_then_silence(tmp_path: Path) -> None:
    utterance = said(at=10.0)
    packets = PcapReader(write_speech_pcap(tmp_path / "s.pcap", utterance, 500)).read()
    assert utterance.packets == 25 and utterance.tail_packets == 50  # 0.499 s, then 1 s
    assert len(packets) == 75
    headers = [header(p.payload) for p in packets]
    assert {h.payload_type for h in headers} == {PCMU}
    assert [h.marker for h in headers] == [True] + [False] * 74, "one talkspurt"
    assert [h.seq for h in headers] == list(range(500, 575))
    stamps = [h.timestamp for h in headers]
    assert [t - stamps[0] for t in stamps] == [160 * n for n in range(75)]
    assert [round(p.ts - packets[0].ts, 3) for p in packets] == \
        [round(0.02 * n, 3) for n in range(75)]
    codes = b"".join(p.payload[12:] for p in packets)
    clip = ulaw_encode(load_wav(TWO)).tobytes()
    assert codes[:len(clip)] == clip, "the recording itself, sample for sample"
    assert set(codes[len(clip):]) == {0xFF}, "then digital silence"


def test_another_rate_is_resampled_to_8_khz(tmp_path: Path) -> None:
    wide = tmp_path / "wide.wav"
    save_wav(wide, 0.3 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000), rate=16000)
    utterance = said(wide, tail=0.0)
    packets = PcapReader(write_speech_pcap(tmp_path / "s.pcap", utterance, 0)).read()
    assert len(packets) == 50, "one second, 20 ms a packet at 8 kHz"
    codes = np.frombuffer(b"".join(p.payload[12:] for p in packets), dtype=np.uint8)
    assert np.array_equal(codes, ulaw_encode(load_wav(wide)))


def test_speech_and_keys_continue_one_rtp_stream(tmp_path: Path) -> None:
    """The opening silence, "two", a key, "two" again: sequence numbers without a gap or a
    repeat, timestamps at the planned times, one SSRC, as one phone sends them."""
    first, second = said(at=5.0), said(at=9.0)
    script = CallerScript("101", (first, KeyPress("1", 7.0, "key"), second))
    silence, plays = write_media(script, tmp_path)
    assert [p.name for p in plays] == ["say-01.pcap", "digit-01-1.pcap", "say-02.pcap"]
    files = [[d.payload for d in PcapReader(path).read()] for path in (silence, *plays)]
    stream = [header(payload) for packets in files for payload in packets]
    seqs = [h.seq for h in stream]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len({payload[8:12] for packets in files for payload in packets}) == 1, "one SSRC"
    answer = stream[9].timestamp + 160  # where the opening silence ends
    assert [header(packets[0]).timestamp - answer for packets in files[1:]] == \
        [5 * 8000, 7 * 8000, 9 * 8000]


def header(payload: bytes) -> RtpHeader:
    parsed = parse_rtp(payload)
    assert parsed is not None
    return parsed


def test_sipp_plays_each_utterance_at_its_time_and_waits_it_out(tmp_path: Path) -> None:
    script = CallerScript.says_every("101", [TWO, TWO], key_wait=4.0, patience=6.0)
    assert [s.at for s in script.says] == [4.0, 4.0 + 1.5 + 4.0]
    silence, plays = write_media(script, tmp_path)
    root = ET.fromstring(scenario_xml(script, silence, plays))
    played = [Path(e.get("play_pcap_audio") or "").name for e in root.iter("exec")]
    assert played == ["silence.pcap", "say-01.pcap", "say-02.pcap"]
    assert [e.get("milliseconds") for e in root.iter("pause")] == ["4000", "1500", "4000", "1500"]
    bye = root.find("recv[@request='BYE']")
    assert bye is not None and bye.get("timeout") == "6000", "the patience after the last"


def _call_saying(utterance: Utterance, tmp_path: Path, reply_after: float | None,
                 menu_until: float = 0.0) -> list[tuple[float, bytes]]:
    """A call answered at 1.0 whose caller's packets are the speech pcap as written, played
    from the utterance's time; the IVR plays a menu from 1.05 to `menu_until` and answers
    `reply_after` seconds after the clip's last loud packet."""
    p = [(0.0, frame(CALLER_SIP, SIP, sip("INVITE sip:101@h SIP/2.0", "c", "1 INVITE",
                                        CALLER_RTP))),
         (1.0, frame(SIP, CALLER_SIP, sip("SIP/2.0 200 OK", "c", "1 INVITE", IVR_RTP)))]
    p += [(t, frame(IVR_RTP, CALLER_RTP, rtp(0, n, LOUD)))
          for n, t in enumerate(np.arange(1.05, max(menu_until, 1.1), 0.02))]
    sent: list[Datagram] = PcapReader(write_speech_pcap(tmp_path / "s.pcap", utterance, 0)).read()
    start = 1.0 + utterance.at
    p += [(start + d.ts - sent[0].ts, frame(CALLER_RTP, IVR_RTP, d.payload)) for d in sent]
    if reply_after is not None:
        end = start + _last_loud(sent) * 0.02
        p += [(end + reply_after + 0.02 * n, frame(IVR_RTP, CALLER_RTP, rtp(0, 900 + n, LOUD)))
              for n in range(20)]
    p.append((start + 6.0, frame(SIP, CALLER_SIP, sip("BYE sip:x SIP/2.0", "c", "2 BYE"))))
    return sorted(p, key=lambda x: x[0])


def _last_loud(sent: list[Datagram]) -> int:
    """The index of the last packet with enough samples above the judge's threshold."""
    quiet = quiet_codes(LOUD_THRESHOLD)
    loud = [n for n, d in enumerate(sent)
            if len(d.payload[12:].translate(None, quiet)) >= LOUD_SAMPLES]
    return loud[-1]


def judged(packets: list[tuple[float, bytes]], tmp_path: Path,
           expected: Expected) -> CallBook:
    (tmp_path / "c.pcap").write_bytes(pcap(packets))
    book = CallBook(expected=expected)
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    return book


def test_end_of_speech_is_the_last_loud_packet_the_caller_sent(tmp_path: Path) -> None:
    utterance = said(at=3.0)
    expected = Expected.of(CallerScript("101", (utterance,)))
    assert expected.steps == (Step("say two", 0, True),) and expected.utterances == 1
    book = judged(_call_saying(utterance, tmp_path, reply_after=0.7), tmp_path, expected)
    summary = book.summary()
    assert list(summary.steps) == [ANSWER_STEP, step_name("say two", speech=True), SPEECH_STEP]
    assert summary.steps[SPEECH_STEP] == pytest.approx([0.7], abs=1e-3)
    assert summary.completed == 1


def test_the_menu_playing_while_the_caller_speaks_is_not_the_answer(tmp_path: Path) -> None:
    """Barge-in: the menu goes on under the first 0.2 s of speech, then the IVR is silent until
    its answer; only that answer, after the end of speech, counts."""
    utterance = said(at=3.0)
    packets = _call_saying(utterance, tmp_path, reply_after=0.65, menu_until=4.2)
    book = judged(packets, tmp_path, Expected.of(CallerScript("101", (utterance,))))
    assert book.summary().steps[SPEECH_STEP] == pytest.approx([0.65], abs=1e-3)


def test_speech_with_no_prompt_after_it_is_a_failure_of_its_own(tmp_path: Path) -> None:
    utterance = said(at=3.0)
    expected = Expected.of(CallerScript("101", (utterance,)))
    book = judged(_call_saying(utterance, tmp_path, reply_after=None), tmp_path, expected)
    assert book.summary().failed == {"no prompt after speech": 1}
    unsaid = Expected((Step("say two", 0), Step("say two again", 0)))
    book = judged(_call_saying(utterance, tmp_path, reply_after=0.7), tmp_path, unsaid)
    assert book.summary().failed == {"speech not sent": 1}


def test_keys_and_speech_are_reported_apart(tmp_path: Path) -> None:
    expected = Expected((Step("press 1", 1), Step("say two", 0)))
    assert CallBook(expected=expected).step_names() == [
        ANSWER_STEP, step_name("press 1"), step_name("say two", speech=True), KEY_STEP, SPEECH_STEP]
    assert CallBook().step_names() == [ANSWER_STEP, step_name("key 1"), KEY_STEP], \
        "a keys-only run reports what it did before"


def _speaking_scenario(tmp_path: Path) -> Path:
    file = tmp_path / "speaks.yaml"
    file.write_text(f'dial: "101"\nsteps:\n  - expect: [welcome, main-menu]\n'
                    f'  - say: {{wav: {TWO}, keys: "2"}}\n'
                    '  - expect: [you-pressed, digit-2]\n'
                    '  - say: two\n  - press: "1"\n  - hangup\n')
    return file


def test_a_scenario_says_its_wav_and_its_rendered_text_at_the_planned_times(
        tmp_path: Path) -> None:
    scenario = load_scenario(_speaking_scenario(tmp_path), PROMPTS)
    script = scenario_script(scenario, PROMPTS, tmp_path / "speech")
    wav_say, text_say = script.says
    rendered = tmp_path / "speech" / "speaks.say3.wav"
    assert (wav_say.wav, text_say.wav) == (TWO, rendered) and rendered.is_file()
    assert (wav_say.name, text_say.name) == ("say 2_jackson_0.wav (line 4)", "say two (line 6)")
    planned = plan(scenario, PROMPTS, {3: rendered})
    says = [p for p in planned.steps if isinstance(p.step, Say)]
    assert [s.at for s in script.says] == [round(p.at, 3) for p in says]
    assert [s.seconds for s in script.says] == [p.seconds for p in says]
    assert wav_say.prompt_after and wav_say.tail == SPEECH_TAIL
    (press,) = script.presses
    assert not text_say.prompt_after and not press.prompt_after, "the caller goes on / hangs up"
    assert text_say.tail == pytest.approx(press.at - text_say.at - text_say.seconds, abs=0.002), \
        "its silence stops where the key starts"
    assert [type(a).__name__ for a in script.actions] == ["Utterance", "Utterance", "KeyPress"]


def test_the_cli_says_wavs_instead_of_keys(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    build_parser(parser, ROOT)
    spoken = caller_script(parser.parse_args(["101", "--say", str(TWO), "--key-wait", "9"]))
    assert spoken == CallerScript.says_every("101", [TWO], 9.0)
    assert spoken is not None and not spoken.presses
    assert caller_script(parser.parse_args(["101", "--say", str(TWO), "--keys", "2"])) is None
    assert "--keys or --say" in capsys.readouterr().err
    assert caller_script(parser.parse_args(["101", "--say", str(tmp_path / "none.wav")])) is None
    assert "none.wav" in capsys.readouterr().err
    scenario = caller_script(parser.parse_args(["--scenario", str(_speaking_scenario(tmp_path)),
                                                "--work", str(tmp_path / "run")]))
    assert scenario is not None and len(scenario.says) == 2
    assert (tmp_path / "run" / "speech" / "speaks.say3.wav").is_file()
