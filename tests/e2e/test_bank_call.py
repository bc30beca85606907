"""The bilingual bank demo on extension 100: two menu levels by DTMF, in Korean and in English."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.testing.audio import HEARD_WHOLE, heard_sequence
from ivr.testing.softphone import place_call_subprocess

from .helpers import PROMPTS, events, new_caller, played, seconds
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def heard(recording: Path, language: str, prompts: list[str]) -> list[str]:
    files = {p: PROMPTS / language / f"{p}.wav" for p in prompts}
    return [name for name, _ in heard_sequence(recording, files, threshold=HEARD_WHOLE)]


def walk(language: str, choice: str, tmp_path: Path) -> str:
    """Choose the language, then 2 (hours and location), then `choice` in the hours menu."""
    caller = new_caller()
    key = "1" if language == "ko" else "2"
    first = seconds("bank-welcome", "ko") + 1.0  # into the bilingual language prompt
    tail = "branch-location" if choice == "2" else "branch-hours-from"
    listen = seconds(tail, language) + 4.0
    report = place_call_subprocess(
        "100",
        f"wait {first:.1f}; dtmf {key}; wait 1.5; dtmf 2; wait 1.5; dtmf {choice}; "
        f"wait {listen:.1f}; hangup",
        record=tmp_path / "heard.wav", caller=caller,
    )
    assert report.ok and report.hangup_by == "local", report.error
    return caller


@pytest.mark.parametrize("language", ["ko", "en"])
def test_two_menu_levels_to_the_branch_location(
    ivr_app: RunningApp, tmp_path: Path, language: str
) -> None:
    caller = walk(language, "2", tmp_path)
    trace = ivr_app.trace_for_caller(caller)
    assert trace[0]["flow"] == "bank"
    path = trace[-1]["path"]
    assert path[:6] == ["choose_language", "korean" if language == "ko" else "english",
                        "main_menu", "hours_menu", "branch_location", "hours_menu"]
    assert [e["language"] for e in events(trace, "language")] == [language]
    assert [e["key"] for e in events(trace, "choice")] == ["1" if language == "ko" else "2",
                                                            "2", "2"]
    assert all(e["language"] == language for e in events(trace, "play")[2:]), (
        "every prompt after the choice follows the caller's language"
    )
    assert played(trace)[:2] == ["bank-welcome", "choose-language"]
    assert "branch-location" in played(trace)

    other = "en" if language == "ko" else "ko"
    said = heard(tmp_path / "heard.wav", language, ["branch-location"])
    assert said == ["branch-location"], "the location is heard whole, in the chosen language"
    assert heard(tmp_path / "heard.wav", other, ["branch-location"]) == []
    assert heard(tmp_path / "heard.wav", "ko", ["bank-welcome"]) == ["bank-welcome"]


def test_branch_hours_say_the_times_in_english(ivr_app: RunningApp, tmp_path: Path) -> None:
    caller = walk("en", "1", tmp_path)
    trace = ivr_app.trace_for_caller(caller)
    path = trace[-1]["path"]
    assert path[3:6] == ["hours_menu", "branch_hours", path[5]]
    assert path[5] in ("hours_open", "hours_closed", "hours_holiday")
    prompts = played(trace)
    start = prompts.index("branch-hours-from")
    middle = prompts[start + 1:prompts.index("branch-hours-to")]
    assert middle, "09:00 is said with number prompts between 'from' and 'to'"
    assert heard(tmp_path / "heard.wav", "en", ["branch-hours-from"]) == ["branch-hours-from"]
