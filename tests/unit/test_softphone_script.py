"""The softphone's script language, report model and CLI wiring (no SIP, no pjsua2)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ivr.testing.call_cli import build_parser, script_from_args
from ivr.testing.phonespec import PhoneSpec
from ivr.testing.report import EXIT_NOT_CONNECTED, CallReport, Event
from ivr.testing.script import (
    Dtmf,
    Hangup,
    Play,
    ScriptError,
    Wait,
    WaitHangup,
    needs_media,
    parse_script,
    parse_step,
    script_to_text,
)
from ivr.testing.softphone import normalize_target


def test_parse_all_steps() -> None:
    steps = parse_script(
        "wait 2.5; dtmf 123#; play a.wav\nplay-bg 'my mic.wav'; wait-hangup 10; hangup"
    )
    assert steps == [
        Wait(2.5),
        Dtmf("123#"),
        Play(Path("a.wav")),
        Play(Path("my mic.wav"), background=True),
        WaitHangup(10.0),
        Hangup(),
    ]


def test_dtmf_digits_gap_and_case() -> None:
    assert parse_step("dtmf *0#abcd") == Dtmf("*0#ABCD")
    assert parse_step("dtmf 12 0.5") == Dtmf("12", gap=0.5)
    assert parse_step("DTMF 9") == Dtmf("9")


def test_comments_blank_lines_and_semicolons() -> None:
    text = """
    # press one after the welcome prompt
    wait 3
    dtmf 1;  ; wait-hangup 15   # trailing text is not a comment: see below
    """
    with pytest.raises(ScriptError, match="wait-hangup SECONDS"):
        parse_script(text)
    assert parse_script("# only a comment\n\n;;") == []
    assert parse_script("wait 1\n# dtmf 2\ndtmf #") == [Wait(1.0), Dtmf("#")]


def test_quoted_semicolon_in_path() -> None:
    assert parse_script("play 'a;b.wav'; hangup") == [Play(Path("a;b.wav")), Hangup()]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wait", "expected `wait SECONDS`"),
        ("wait soon", "not a number"),
        ("wait -1", ">= 0"),
        ("wait inf", "finite"),
        ("dtmf 12x", "not DTMF digits: 'X'"),
        ("dtmf", "dtmf DIGITS"),
        ("hangup now", "expected `hangup`"),
        ("dial 100", "unknown step 'dial'"),
        ("play", "play FILE.wav"),
        ("play 'unterminated", "No closing quotation"),
    ],
)
def test_errors_name_the_step(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match="step 2") as exc:
        parse_script(f"wait 1; {text}")
    assert message in str(exc.value)


def test_to_text_round_trips() -> None:
    steps = parse_script(
        "wait 0.25; dtmf 1*# 0.4; dtmf 5; play 'x y.wav'; play-bg m.wav; wait-hangup 7; hangup"
    )
    assert parse_script(script_to_text(steps)) == steps
    assert script_to_text([Wait(3.0), Dtmf("1")]) == "wait 3; dtmf 1"


def test_needs_media() -> None:
    assert needs_media(Dtmf("1")) and needs_media(Play(Path("a.wav")))
    assert not needs_media(Wait(1)) and not needs_media(Hangup())


def test_normalize_target() -> None:
    assert normalize_target("100") == "sip:100@127.0.0.1:5060"
    assert normalize_target("100", "10.0.0.5:5070") == "sip:100@10.0.0.5:5070"
    assert normalize_target("x@127.0.0.1:5090") == "sip:x@127.0.0.1:5090"
    assert normalize_target("sip:200@host") == "sip:200@host"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build_parser(parser)
    return parser.parse_args(argv)


def test_cli_shortcuts_build_a_script() -> None:
    args = _parse(["100", "--dtmf", "12", "--play", "mic.wav", "--listen", "5"])
    assert script_from_args(args) == [
        Play(Path("mic.wav"), background=True),
        Wait(2.0),
        Dtmf("12"),
        Wait(5.0),
    ]
    args = _parse(["--answer", "--timeout", "10", "--listen", "3"])
    assert script_from_args(args) == [WaitHangup(13.0)]
    args = _parse(["100", "--script", "wait 3; dtmf 1; wait-hangup 15"])
    assert script_from_args(args) == [Wait(3.0), Dtmf("1"), WaitHangup(15.0)]


def test_phone_spec_argv_round_trips_through_cli() -> None:
    spec = PhoneSpec(
        target="sip:100@127.0.0.1:5060",
        steps=parse_script("wait 1; dtmf 1#; wait-hangup 9"),
        record=Path("/tmp/heard.wav"),
        caller="5551234",
        timeout=12.0,
        port=5090,
        register="sip:agent1001@127.0.0.1",
        password="pw",
    )
    args = _parse(spec.to_argv())
    assert args.target == spec.target and args.caller == "5551234"
    assert args.record == spec.record and args.timeout == 12.0 and args.port == 5090
    assert args.register == spec.register and args.password == "pw" and not args.answer
    assert script_from_args(args) == spec.steps


def test_report_json_round_trip_and_helpers(tmp_path: Path) -> None:
    report = CallReport(
        target="sip:100@127.0.0.1:5060",
        caller_id="5551234",
        sip_call_id="abc",
        exit_code=EXIT_NOT_CONNECTED,
        error="call failed: 404 Not Found",
        status_code=404,
        events=[
            Event(0.0, "calling", {"uri": "sip:100@127.0.0.1:5060"}),
            Event(0.01234567, "disconnected", {"code": 404, "reason": "Not Found", "by": "remote"}),
        ],
    )
    path = tmp_path / "r.json"
    report.write(path)
    raw = json.loads(path.read_text())
    assert raw["events"][1] == {
        "t": 0.0123,
        "type": "disconnected",
        "code": 404,
        "reason": "Not Found",
        "by": "remote",
    }
    back = CallReport.loads(path.read_text())
    assert back.status_code == 404 and back.error == report.error
    disconnected = back.event("disconnected")
    assert disconnected is not None and disconnected.data["by"] == "remote"
    assert back.event("confirmed") is None
    assert [e.type for e in back.events_of("calling")] == ["calling"]
    assert "FAILED (exit 3): call failed: 404 Not Found" in back.summary()
