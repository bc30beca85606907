"""Self-service balance on the bank demo, by DTMF, through real Asterisk: account, secure PIN,
the balance said as currency in the caller's language; lockout; a backend that is down.

Keys are sent with barge-in: each one lands 1.5 s into the prompt that asks for it, so the tests
do not depend on how long the rendered prompts are.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

import pytest

from ivr.media.say import say
from ivr.testing.audio import HEARD_WHOLE, heard_sequence, load_wav
from ivr.testing.softphone import place_call_subprocess

from .helpers import PROMPTS, STEP, actions, add_account, events, new_caller, played
from .running_app import RunningApp, free_port

pytestmark = pytest.mark.e2e


def balance_script(language: str, account: str, pin: str, listen: float) -> str:
    choose = "1" if language == "ko" else "2"
    return "; ".join([
        STEP, f"dtmf {choose}",          # language
        STEP, "dtmf 1",                  # main menu: balance
        STEP, f"dtmf {account}#",        # account number
        STEP, "dtmf 1",                  # read back: correct
        STEP, f"dtmf {pin}#",            # PIN (secure)
        f"wait {listen}", "hangup",
    ])


@pytest.mark.parametrize(("language", "account", "pin", "currency", "balance"), [
    ("ko", "31415926", "586021", "KRW", "1234500"),
    ("en", "27182818", "690417", "USD", "2500.75"),
])
def test_balance_in_the_callers_language(
    ivr_app: RunningApp, tmp_path: Path, language: str, account: str, pin: str,
    currency: str, balance: str,
) -> None:
    add_account(ivr_app, account, pin, currency, balance)
    caller = new_caller()
    report = place_call_subprocess("100", balance_script(language, account, pin, 16),
                                   record=tmp_path / "heard.wav", caller=caller, timeout=10)
    assert report.ok, report.error

    trace = ivr_app.trace_for_caller(caller)
    assert actions(trace) == [("accounts.lookup_caller", "not_found"),
                              ("accounts.verify_pin", "ok"), ("accounts.balance", "ok")]
    spoken = say("currency", balance, language, currency)
    prompts = played(trace)
    start = prompts.index("balance-is") + 1
    assert prompts[start:start + len(spoken)] == spoken, "the amount, in the caller's language"
    assert prompts[start + len(spoken)] == "balance-is-end"
    # "690417#" fills the 6-digit PIN at its sixth key: the '#' is the caller's habit, dropped,
    # not a wrong choice in the menu after the balance.
    assert [(e["key"], e["source"]) for e in events(trace, "key_forgiven")] == [("#", "dtmf")]
    assert not events(trace, "no_match"), "nothing the caller keyed was taken as a choice"
    # The prompt starts as the PIN's last key ends; the caller's jitter buffer may smear that
    # instant, so the announcement is matched by its last second, which must be heard whole.
    announcement = load_wav(PROMPTS / language / "balance-is.wav")[-8000:]
    assert heard_sequence(tmp_path / "heard.wav", {"balance-is": announcement},
                          threshold=HEARD_WHOLE), "the caller heard the balance announced"

    # The PIN is nowhere: not in the app's log, the trace file, the call record, the database.
    assert pin in report.dtmf_sent, "the PIN was really keyed"
    assert pin not in "\n".join(ivr_app.log_lines())
    assert pin not in json.dumps(trace)
    (record,) = [r for r in ivr_app.get("/records") if r["caller"] == caller]
    one = ivr_app.get(f"/records/{record['call_id']}")
    assert (one.pop("wrapup"), one.pop("first_call_resolution")) == (None, None)  # no agent
    assert one == record, "one record reads as it does in the list"
    assert pin not in json.dumps(record)
    assert record["outcome"] == "self_served", "the flow marked the call as self-served"
    assert record["language"] == language and "verify_pin" in record["path"]
    assert "*" * len(pin) in record["keys"], "the PIN's keys are masked in the record"
    with sqlite3.connect(ivr_app.database()) as db:
        dump = "\n".join(db.iterdump())
    assert pin not in dump, "not in any table either (PINs are stored hashed)"


def test_three_wrong_pins_lock_the_account_and_offer_an_agent(
    ivr_app: RunningApp, tmp_path: Path
) -> None:
    add_account(ivr_app, "16180339", "8870", "KRW", "50000")
    caller = new_caller()
    script = "; ".join([
        STEP, "dtmf 2", STEP, "dtmf 1", STEP, "dtmf 16180339#", STEP, "dtmf 1",
        STEP, "dtmf 1111#", STEP, "dtmf 2222#", STEP, "dtmf 3333#",   # three wrong PINs
        STEP, "dtmf 1",                                               # locked: 1 for an agent
        "wait 8", "hangup",            # nobody is logged in: the queue says so (no_agents)
    ])
    report = place_call_subprocess("100", script, caller=caller, timeout=10)
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    outcomes = [outcome for name, outcome in actions(trace) if name == "accounts.verify_pin"]
    assert outcomes[:3] == ["wrong_pin", "wrong_pin", "locked"]
    assert "account-locked" in played(trace)
    path = trace[-1]["path"]
    assert "account_locked" in path and "agent" in path[path.index("account_locked"):]
    after = path[path.index("agent"):]
    assert after[:2] == ["agent", "queue_no_agents"], "no agent logged in: told, not queued"
    assert "get_balance" not in path, "a locked account hears no balance"
    assert events(trace, "choice")[-1]["key"] == "1", "the caller took the agent offered"


def test_backend_down_gets_an_apology_and_a_person(ivr_app: RunningApp, tmp_path: Path) -> None:
    assert ivr_app.restart is not None
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ivr_app.restart({"IVR_ACCOUNTS": down})
    try:
        caller = new_caller()
        script = "; ".join([STEP, "dtmf 2", STEP, "dtmf 1", "wait 15", "hangup"])
        report = place_call_subprocess("100", script, record=tmp_path / "heard.wav",
                                       caller=caller, timeout=10)
        assert report.ok, report.error
        trace = ivr_app.trace_for_caller(caller)
        assert [e["action"] for e in events(trace, "action_failed")] == ["accounts.lookup_caller"]
        path = trace[-1]["path"]
        assert path[path.index("backend_down") + 1] == "agent"
        assert "service-unavailable" in played(trace)
        heard = heard_sequence(tmp_path / "heard.wav", {
            "service-unavailable": PROMPTS / "en" / "service-unavailable.wav"},
            threshold=HEARD_WHOLE)
        assert [name for name, _ in heard] == ["service-unavailable"]
        assert not events(trace, "error"), "the failure is handled, not a crash"
    finally:
        ivr_app.restart()


def test_records_survive_a_restart(ivr_app: RunningApp) -> None:
    before = ivr_app.get("/records?limit=1000")
    assert before, "earlier calls left records"
    assert ivr_app.restart is not None
    ivr_app.restart()
    after = ivr_app.get("/records?limit=1000")
    assert {r["call_id"] for r in before} <= {r["call_id"] for r in after}
    newest = max(after, key=lambda r: r["started_at"])
    assert dt.datetime.fromisoformat(newest["started_at"]).tzinfo is not None


def test_caller_id_shortcut_and_recent_transactions(ivr_app: RunningApp) -> None:
    """Demo account 11112222 belongs to caller 01012345678: no account number to type."""
    script = "; ".join([
        STEP, "dtmf 1",          # 한국어
        STEP, "dtmf 1",          # balance
        STEP, "dtmf 1",          # yes, the account ending 2222
        STEP, "dtmf 2222#",      # PIN
        STEP, "dtmf 2",          # typed ahead during the balance: recent transactions
        "wait 25", "hangup",
    ])
    started = time.time()  # the bank scenarios call from this number too, on the same app
    report = place_call_subprocess("100", script, caller="01012345678", timeout=10)
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller("01012345678", since=started)
    assert actions(trace) == [("accounts.lookup_caller", "found"), ("accounts.verify_pin", "ok"),
                              ("accounts.balance", "ok"), ("accounts.transactions", "ok")]
    path = trace[-1]["path"]
    assert "enter_account" not in path, "caller ID shortened the path"
    assert [n for n in path if n.startswith("say_tx")] == ["say_tx1", "say_tx2", "say_tx3"]
    prompts = played(trace)
    after = prompts[prompts.index("account-ending") + 1:prompts.index("enter-pin")]
    assert after and set(after) == {"digit-2"}, "'ending 2222' (cut short by the key 1)"
    newest = say("date", "2026-11-21", "ko")
    start = prompts.index("recent-transactions") + 1
    assert prompts[start:start + len(newest)] == newest, "the newest transaction's date first"
    assert prompts[start + len(newest)] == "tx-withdrawal"
