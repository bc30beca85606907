"""`ivr load --scenario`: a shipped scenario file as every SIPp caller's XML (dial, caller id,
the pauses the plan gives, the digits, the hang-up), and the judge measuring each press step (no
SIPp, no Asterisk). Scenarios that speak: test_load_speech.py."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.app.paths import project_root
from ivr.media.prompts import PromptLibrary
from ivr.testing.load_calls import ANSWER_STEP, KEY_STEP, CallBook, Expected, Step, step_name
from ivr.testing.load_cli import build_parser, caller_script
from ivr.testing.load_media import write_media
from ivr.testing.load_pcap import PcapReader, event_end, parse_rtp
from ivr.testing.load_scenario import AFTER_EXPECTED_HANGUP, scenario_script
from ivr.testing.load_sipp import DTMF_PCAP_MS, KEY_GAP, CallerScript, scenario_xml
from ivr.testing.outcome import plan
from ivr.testing.scenario import ExpectHangup, Hangup, Press, load_scenario

from .test_load_capture import CALLER_RTP, CALLER_SIP, IVR_RTP, LOUD, SIP, frame, pcap, rtp, sip

ROOT = project_root()
PROMPTS = PromptLibrary(ROOT / "prompts")


def sipp_of(name: str, tmp_path: Path) -> tuple[CallerScript, ET.Element, list[Path]]:
    script = scenario_script(load_scenario(ROOT / "scenarios" / name, PROMPTS), PROMPTS,
                             tmp_path / "speech")
    silence, digits = write_media(script, tmp_path)
    return script, ET.fromstring(scenario_xml(script, silence, digits)), digits


def timeline(root: ET.Element) -> tuple[list[tuple[float, str]], float]:
    """(when each pcap after the silence starts playing, its file name), and the time after
    the last element: the pauses added up, as SIPp plays them."""
    now, plays = 0.0, []
    for element in root:
        if element.tag == "pause":
            now += int(element.get("milliseconds", "0")) / 1000
        for play in element.iter("exec"):
            plays.append((round(now, 3), Path(play.get("play_pcap_audio", "")).name))
    return plays[1:], now


def events_of(digits: list[Path]) -> list[tuple[int, int, int]]:
    """(event code, first sequence number, RTP timestamp) of each digit pcap."""
    out = []
    for path in digits:
        packets = PcapReader(path).read()
        header = parse_rtp(packets[0].payload)
        assert header is not None
        end = event_end(packets[-1].payload, header)
        assert end is not None and end[1], "each digit pcap ends with an end packet"
        out.append((end[0], header.seq, header.timestamp))
    return out


def test_key_read_back_dials_presses_at_the_planned_time_and_waits_for_the_ivr(
        tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios/demo-key-read-back.yaml", PROMPTS)
    planned = plan(scenario, PROMPTS)
    script, root, digits = sipp_of("demo-key-read-back.yaml", tmp_path)
    invite = (root.findtext("send") or "").lstrip()
    assert invite.startswith(f"INVITE sip:{scenario.dial}@")
    assert f"From: <sip:{scenario.caller}@" in invite
    (press,) = [p for p in planned.steps if isinstance(p.step, Press)]
    plays, _ = timeline(root)
    assert plays == [(round(press.at, 3), "digit-01-1.pcap")]
    assert [e for e, _, _ in events_of(digits)] == [1]
    (hangup,) = [p for p in planned.steps if isinstance(p.step, ExpectHangup)]
    bye = root.find("recv[@request='BYE']")
    assert bye is not None, "the IVR is expected to hang up"
    waited = int(bye.get("timeout", "0")) / 1000
    assert waited == pytest.approx(hangup.at + hangup.step.within + AFTER_EXPECTED_HANGUP
                                   - press.at - DTMF_PCAP_MS / 1000, abs=0.002)
    assert [p.name for p in script.presses] == [f"press 1 (line {press.step.line})"]
    assert script.presses[0].prompt_after and script.ivr_hangs_up


def test_wrong_key_scenario_presses_each_key_in_one_stream_and_hangs_up_itself(
        tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios/bank-en-wrong-key.yaml", PROMPTS)
    planned = plan(scenario, PROMPTS)
    script, root, digits = sipp_of("bank-en-wrong-key.yaml", tmp_path)
    assert (root.findtext("send") or "").lstrip().startswith(f"INVITE sip:{scenario.dial}@")
    presses = [p for p in planned.steps if isinstance(p.step, Press)]
    plays, end = timeline(root)
    assert [at for at, _ in plays] == [round(p.at, 3) for p in presses]
    assert [e for e, _, _ in events_of(digits)] == [int(p.step.keys) for p in presses] == [2, 7, 2]
    seqs = [s for _, s, _ in events_of(digits)]
    stamps = [t for _, _, t in events_of(digits)]
    assert seqs == sorted(set(seqs)) and stamps == sorted(set(stamps)), \
        "one RTP stream going forward: the second 2 is no repeat of the first"
    (hangup,) = [p for p in planned.steps if isinstance(p.step, Hangup)]
    assert root.find("recv[@request='BYE']") is None, "the caller hangs up, not the IVR"
    assert end == pytest.approx(hangup.at, abs=0.002)
    sends = [s.text or "" for s in root.iter("send")]
    assert sends[-1].lstrip().startswith("BYE sip:")
    assert not script.ivr_hangs_up and all(p.prompt_after for p in script.presses)


def test_a_pin_is_one_press_step_its_keys_a_key_gap_apart(tmp_path: Path) -> None:
    script, root, digits = sipp_of("bank-en-balance-pin.yaml", tmp_path)
    pin = next(p for p in script.presses if p.keys == "2222#")
    plays, _ = timeline(root)
    times = [at for at, _ in plays]
    first = times.index(round(pin.at, 3))
    assert times[first:first + 5] == pytest.approx([pin.at + n * KEY_GAP for n in range(5)],
                                                   abs=0.002)
    assert len({t for _, _, t in events_of(digits)}) == len(digits) == len(script.keys)


def test_a_press_with_no_prompt_after_is_not_measured(tmp_path: Path) -> None:
    script, _, _ = sipp_of("bank-en-to-an-agent.yaml", tmp_path)
    assert [p.prompt_after for p in script.presses] == [True, False]  # press 3, wait, hangup


def test_the_cli_takes_a_scenario_or_an_extension(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    build_parser(parser, ROOT)
    scenario = caller_script(parser.parse_args(
        ["--scenario", str(ROOT / "scenarios/demo-key-read-back.yaml")]))
    assert scenario is not None and scenario.extension == "101"
    assert scenario.caller_id == "5550101001"
    fixed = caller_script(parser.parse_args(["101", "--keys", "21", "--key-wait", "4"]))
    assert fixed == CallerScript.keys_every("101", "21", 4.0)
    assert caller_script(parser.parse_args([])) is None
    (tmp_path / "s.yaml").write_text('dial: "1"\nsteps:\n  - say: {wav: gone.wav}\n')
    assert caller_script(parser.parse_args(["--scenario", str(tmp_path / "s.yaml")])) is None
    assert f"{tmp_path / 's.yaml'}:3:" in capsys.readouterr().err, "a bad file at its line"


def test_each_press_step_is_measured_from_its_last_key(tmp_path: Path) -> None:
    """Two steps: "12" (a prompt after the 2 only) and "3". The prompt after key 1 is none of
    the run's business; each step's latency is reported under its name."""
    expected = Expected((Step("press 12", 2), Step("press 3", 1)))
    p = [(0.0, frame(CALLER_SIP, SIP, sip("INVITE sip:1@h SIP/2.0", "c", "1 INVITE",
                                        CALLER_RTP))),
         (1.0, frame(SIP, CALLER_SIP, sip("SIP/2.0 200 OK", "c", "1 INVITE", IVR_RTP))),
         (1.1, frame(IVR_RTP, CALLER_RTP, rtp(0, 1, LOUD)))]
    for ts, stamp in ((3.0, 10), (3.4, 20), (6.0, 30)):
        p.append((ts, frame(CALLER_RTP, IVR_RTP, rtp(101, stamp, bytes([1, 0x8A, 0, 160]),
                                                     stamp))))
    p += [(3.5, frame(IVR_RTP, CALLER_RTP, rtp(0, 2, LOUD))),
          (6.25, frame(IVR_RTP, CALLER_RTP, rtp(0, 3, LOUD))),
          (9.0, frame(SIP, CALLER_SIP, sip("BYE sip:x SIP/2.0", "c", "2 BYE")))]
    (tmp_path / "c.pcap").write_bytes(pcap(sorted(p, key=lambda x: x[0])))
    book = CallBook(expected=expected)
    book.feed(PcapReader(tmp_path / "c.pcap").read())
    summary = book.summary()
    assert list(summary.steps) == [ANSWER_STEP, step_name("press 12"), step_name("press 3"),
                                   KEY_STEP]
    assert summary.steps[step_name("press 12")] == pytest.approx([0.1])
    assert summary.steps[step_name("press 3")] == pytest.approx([0.25])
    assert summary.completed == 1
    hung_up_early = CallBook(expected=Expected((Step("press 12", 2), Step("press 3", 1)),
                                               ivr_hangs_up=False))
    hung_up_early.feed(PcapReader(tmp_path / "c.pcap").read())
    assert hung_up_early.summary().failed == {"the IVR hung up before the caller": 1}
