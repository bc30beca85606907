"""Speaking to the bank demo (extension 100) in English, end to end: the main menu by a spoken
word, the account number said as a string of digits, read back, and confirmed by voice; a
spoken "no" takes the number again and keys still work. Real Asterisk, the pjsua2 softphone,
real human speech from the FSDD sample (speaker lucas), pocketsphinx, offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ivr.testing.audio import HEARD_WHOLE, heard_sequence, load_wav, save_wav
from ivr.testing.softphone import place_call_subprocess

from .helpers import (
    FSDD,
    PROMPTS,
    actions,
    add_account,
    events,
    new_caller,
    played,
    seconds,
)
from .running_app import RunningApp

pytestmark = pytest.mark.e2e

ACCOUNT, PIN = "27182818", "690417"


def trimmed(digit: str) -> np.ndarray:
    """One recorded digit without the recording's own leading and trailing silence."""
    clip = load_wav(FSDD / f"{digit}_lucas_25.wav")
    loud = np.flatnonzero(np.abs(clip) > 0.02)
    return clip[max(0, loud[0] - 400): loud[-1] + 400]


def said(tmp_path: Path, digits: str, gap_s: float = 0.3) -> Path:
    """The caller saying `digits` with short pauses, then a second of quiet, on a line with a
    little noise (a real line is never digitally silent)."""
    parts = [np.zeros(4000)]
    for digit in digits:
        parts += [trimmed(digit), np.zeros(int(gap_s * 8000))]
    parts.append(np.zeros(8000))
    audio = np.concatenate(parts)
    audio += np.random.default_rng(int(digits)).normal(0, 0.003, audio.size)
    out = tmp_path / f"said-{digits}.wav"
    save_wav(out, audio)
    return out


def word(tmp_path: Path, clip: str) -> Path:
    """One recorded word as it was recorded, then a second of quiet."""
    out = tmp_path / f"word-{clip}.wav"
    save_wav(out, np.concatenate([load_wav(FSDD / f"{clip}.wav"), np.zeros(8000)]))
    return out


def readback_seconds(digits: str) -> float:
    return seconds("you-entered") + sum(seconds(f"digit-{d}") for d in digits)


# When the caller answers the confirmation, counted from the end of the spoken account number:
# the read-back, then 2.5 s into "account-confirm" (6.4 s long, so the word still cuts it). The
# recognizer's end of speech comes later on a loaded machine; 1.5 s once let the word cut the
# question within its first second, which the first test checks was heard.
CONFIRM_AFTER_READBACK_S = 2.5


def speech(trace: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(e["node"], e["keys"], e["accepted"]) for e in events(trace, "speech")]


def test_the_account_number_is_said_read_back_and_confirmed_by_voice(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    add_account(ivr_app, ACCOUNT, PIN, "USD", "2500.75")
    caller = new_caller()
    into_confirm = readback_seconds(ACCOUNT) + CONFIRM_AFTER_READBACK_S
    script = "; ".join([
        f"wait {seconds('bank-welcome', 'ko') + 1.0:.1f}", "dtmf 2",   # English, by key
        "wait 1.5", f"play {word(tmp_path, '1_lucas_25')}",             # "one": balance
        "wait 1.5", f"play {said(tmp_path, ACCOUNT)}",                  # the account number
        f"wait {into_confirm:.1f}", f"play {word(tmp_path, '1_lucas_0')}",  # "one": right
        "wait 1.5", f"dtmf {PIN}",                                      # the PIN: keys only
        "wait 14", "hangup",
    ])
    report = place_call_subprocess("100", script, record=tmp_path / "heard.wav",
                                   caller=caller, timeout=10)
    trace = ivr_app.trace_for_caller(caller)
    assert report.ok, report.error
    assert speech(trace) == [("main_menu", "1", True),
                             ("enter_account", f"{ACCOUNT}#", True),
                             ("enter_account.confirm", "1", True)]
    (collected,) = [e for e in events(trace, "collected") if e["node"] == "enter_account"]
    assert collected["value"] == ACCOUNT
    assert events(trace, "confirmed")
    keyed = [e for e in trace if e["event"] in ("dtmf", "collected")]
    assert [e["event"] for e in keyed][:2] == ["dtmf", "collected"], \
        "one key (the language) before the account was taken: the rest was spoken"
    assert actions(trace) == [("accounts.lookup_caller", "not_found"),
                              ("accounts.verify_pin", "ok"), ("accounts.balance", "ok")]

    prompts = played(trace)
    readback = ["you-entered", *(f"digit-{d}" for d in ACCOUNT)]
    start = prompts.index("you-entered")
    assert prompts[start:start + len(readback) + 1] == [*readback, "account-confirm"]
    question = load_wav(PROMPTS / "en" / "account-confirm.wav")[:8000]  # cut by the "one"
    assert [name for name, _ in heard_sequence(
        tmp_path / "heard.wav", {"you-entered": PROMPTS / "en" / "you-entered.wav",
                                 "account-confirm": question}, threshold=HEARD_WHOLE)] == \
        ["you-entered", "account-confirm"], "the caller heard the read-back, then the question"
    assert "balance-is" in prompts
    status = ivr_app.wait_idle()
    assert not status["subscriptions"]
    assert not [c for c in ivr_app.ari("/channels")
                if c["name"].startswith(("Snoop/", "UnicastRTP/"))], "listener channels left"


def test_a_spoken_no_takes_the_number_again_and_keys_still_work(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    caller = new_caller()
    into_confirm = readback_seconds(ACCOUNT) + CONFIRM_AFTER_READBACK_S
    script = "; ".join([
        f"wait {seconds('bank-welcome', 'ko') + 1.0:.1f}", "dtmf 2",
        "wait 1.5", "dtmf 1",                                           # balance, by key
        "wait 1.5", f"play {said(tmp_path, ACCOUNT)}",
        f"wait {into_confirm:.1f}", f"play {word(tmp_path, '2_lucas_0')}",  # "two": again
        "wait 1.5", f"dtmf {ACCOUNT}#",                                  # this time by keys
        "wait 1.5", "dtmf 1",                                           # confirmed by key
        f"wait {seconds('enter-pin') + 1.0:.1f}", "hangup",
    ])
    report = place_call_subprocess("100", script, record=tmp_path / "heard.wav",
                                   caller=caller, timeout=10)
    assert report.ok, report.error

    trace = ivr_app.trace_for_caller(caller)
    assert speech(trace) == [("enter_account", f"{ACCOUNT}#", True),
                             ("enter_account.confirm", "2", True)]
    assert events(trace, "confirm_rejected")
    assert not [e for e in events(trace, "no_match") if e["node"] == "enter_account"], \
        "a caller who says no is not told their entry was invalid"
    (collected,) = events(trace, "collected")
    assert (collected["value"], collected["attempt"]) == (ACCOUNT, 2)
    assert played(trace).count("enter-account") == 2
    assert "enter-pin" in played(trace)
