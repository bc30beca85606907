"""Speech end to end: a softphone speaks a recorded digit (real human speech from the FSDD
sample in tests/data/fsdd) into the demo's menu on extension 101, which listens with
pocketsphinx, offline; the call goes to that option. Speech interrupts the menu prompt; noise
or silence takes the no-match / no-input path; a language without an engine falls back to keys.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ivr.testing.audio import load_wav, save_wav
from ivr.testing.softphone import place_call_subprocess

from .helpers import FSDD, events, heard, new_caller, played, seconds
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def spoken(tmp_path: Path, name: str, level: float = 1.0) -> Path:
    """A clip with a little silence after it (the end of speech is heard as silence)."""
    clip = load_wav(FSDD / f"{name}.wav") * level
    out = tmp_path / f"said-{name}.wav"
    save_wav(out, np.concatenate([clip, np.zeros(8000)]))
    return out


@pytest.mark.parametrize("clip, key", [("2_jackson_0", "2"), ("3_george_0", "3")])
def test_a_spoken_digit_chooses_the_option_and_interrupts_the_prompt(
        ivr_app: RunningApp, tmp_path: Path, clip: str, key: str) -> None:
    _a_spoken_digit_chooses(ivr_app, tmp_path, clip, key)


def test_a_path_opened_when_the_caller_talks_hears_the_digit(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    """IVR_SPEECH_EAGER=0: no listener at all until Asterisk's TALK_DETECT says the caller
    talks, then the path opens and still hears the word (the start of it lost)."""
    assert ivr_app.restart is not None
    ivr_app.restart({"IVR_SPEECH_EAGER": "0"})
    try:
        trace = _a_spoken_digit_chooses(ivr_app, tmp_path, "2_jackson_0", "2")
    finally:
        ivr_app.restart()
    (talking,) = events(trace, "talking")
    menu = next(e for e in trace if e["event"] == "node" and e["node"] == "main_menu")
    assert talking["node"] == "main_menu"
    assert float(str(talking["t"])) > float(str(menu["t"])) + 1.0, \
        "the path opened when the caller talked (1.5 s into the menu), not as the menu began"
    assert 0 <= int(str(talking["path_ms"])) < 1000


def _a_spoken_digit_chooses(ivr_app: RunningApp, tmp_path: Path, clip: str,
                            key: str) -> list[dict[str, object]]:
    """The caller says the digit 1.5 s into the menu prompt; the call's trace."""
    caller = new_caller()
    speak_at = seconds("welcome") + 1.5  # one and a half seconds into the menu prompt
    report = place_call_subprocess(
        "101", f"wait {speak_at:.1f}; play {spoken(tmp_path, clip)}; wait-hangup 20",
        record=tmp_path / "heard.wav", caller=caller, timeout=10)
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    (speech,) = events(trace, "speech")
    assert (speech["keys"], speech["accepted"], speech["engine"]) == (key, True, "pocketsphinx")
    assert events(trace, "choice")[0]["key"] == key
    assert not events(trace, "dtmf"), "no key was pressed: speech alone chose"
    assert [e["prompt"] for e in events(trace, "barge_in")] == ["main-menu"], \
        "speech must stop the menu prompt"
    assert played(trace) == ["welcome", "main-menu", "you-pressed", f"digit-{key}", "goodbye"]
    assert heard(tmp_path / "heard.wav") == ["welcome", "you-pressed", f"digit-{key}",
                                             "goodbye"]
    status = ivr_app.wait_idle()
    assert not status["subscriptions"], "the listener left subscriptions behind"
    assert not [c for c in ivr_app.ari("/channels")
                if c["name"].startswith(("Snoop/", "UnicastRTP/"))], "listener channels left"
    return trace


def test_noise_is_no_match_or_no_input_and_silence_is_no_input(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    noise = tmp_path / "noise.wav"
    save_wav(noise, np.concatenate([rng.normal(0, 0.05, 12000), np.zeros(8000)]))
    caller = new_caller()
    menu_at = seconds("welcome") + 1.0
    report = place_call_subprocess(
        "101", f"wait {menu_at:.1f}; play {noise}; wait-hangup 40",
        record=tmp_path / "heard.wav", caller=caller, timeout=10)
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    assert not events(trace, "choice"), "noise chose an option"
    first = next(e for e in trace if e["event"] in ("no_match", "no_input"))
    assert first["attempt"] == 1
    assert all(not e["accepted"] for e in events(trace, "speech"))
    assert [e["attempt"] for e in events(trace, "no_input")][-2:] == [2, 3], \
        "the silent attempts after the noise are no-inputs"
    assert events(trace, "attempts_exhausted")


def test_a_menu_in_a_language_without_an_engine_asks_for_keys(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    demo = ivr_app.flows_dir / "demo.yaml"
    original = demo.read_text()
    korean = original.replace("languages: [en]", "languages: [ko, en]").replace(
        "default_language: en", "default_language: ko").replace(
        "phrases: {en: [two, support]}", "phrases: {en: [two, support], ko: [둘, 지원]}")
    assert korean != original
    def reloaded(after: int, what: str) -> int:
        deadline = time.monotonic() + 10
        while (now := ivr_app.get("/health")["flows"]["reloads"]) == after:
            assert time.monotonic() < deadline, f"{what} was not loaded"
            time.sleep(0.2)
        return int(now)

    reloads = ivr_app.get("/health")["flows"]["reloads"]
    demo.write_text(korean)
    try:
        reloads = reloaded(reloads, "the Korean demo")
        caller = new_caller()
        press_at = seconds("welcome", "ko") + seconds("speech-unavailable", "ko") + 1.5
        report = place_call_subprocess(
            "101", f"wait {press_at:.1f}; dtmf 2; wait-hangup 20", caller=caller, timeout=10)
    finally:
        demo.write_text(original)
        reloaded(reloads, "the original demo")  # the next test starts from a settled folder
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    assert events(trace, "speech_unavailable")[0]["language"] == "ko"
    assert played(trace)[:3] == ["welcome", "speech-unavailable", "main-menu"]
    assert events(trace, "choice")[0]["key"] == "2"
    assert not events(trace, "speech")
