"""A queue's `callback:` block in flows/queues.yaml (acd/config_callback.py): the defaults, every
field read, and each mistake reported at its line with the queue as the node."""

from __future__ import annotations

import pytest

from ivr.flow.loader import FlowError, FlowErrorDetail
from ivr.services.acd.config import CallbackPolicy
from ivr.services.acd.config_reader import parse_acd_config

BASE = """\
agents:
  a1:
    name: A
    endpoint: PJSIP/a1
queues:
  q:
    members: [a1]
    callback:
"""
"""Lines 1-8; the callback fields appended start at line 9."""


def policy(fields: str) -> CallbackPolicy:
    return parse_acd_config(BASE + fields, "q.yaml").queues["q"].callback


def problems(fields: str) -> list[FlowErrorDetail]:
    with pytest.raises(FlowError) as info:
        parse_acd_config(BASE + fields, "q.yaml")
    return info.value.details


def test_defaults_when_absent() -> None:
    text = BASE.replace("    callback:\n", "")
    assert parse_acd_config(text).queues["q"].callback == CallbackPolicy()
    assert CallbackPolicy() == CallbackPolicy(
        mode="agent_first", attempts=3, retry=(120.0, 600.0), ring_timeout=30.0,
        expire_after=86400.0, window=("09:00", "20:00"), timezone="Asia/Seoul", timezones={},
        caller_id="")


def test_an_empty_block_is_the_defaults() -> None:
    assert policy("      caller_id:\n") == CallbackPolicy()


def test_every_field_is_read() -> None:
    got = policy("""\
      mode: customer_first
      attempts: 5
      retry: [30, 90.5]
      ring_timeout: 45
      expire_after: 7200
      window: "08:30-21:00"
      timezone: Europe/London
      timezones: {"+1": America/New_York, "1808": Pacific/Honolulu}
      caller_id: '"Example Bank" <15880000>'
""")
    assert got == CallbackPolicy(
        mode="customer_first", attempts=5, retry=(30.0, 90.5), ring_timeout=45.0,
        expire_after=7200.0, window=("08:30", "21:00"), timezone="Europe/London",
        timezones={"+1": "America/New_York", "1808": "Pacific/Honolulu"},
        caller_id='"Example Bank" <15880000>')
    assert isinstance(got.ring_timeout, float) and isinstance(got.attempts, int)


def test_one_retry_delay_and_a_window_with_spaces_or_past_midnight() -> None:
    assert policy("      retry: 60\n").retry == (60.0,)
    assert policy("      window: 09:00 - 18:00\n").window == ("09:00", "18:00")
    assert policy("      window: 22:00-06:00\n").window == ("22:00", "06:00")
    assert policy("      window: 00:00-00:00\n").window == ("00:00", "00:00")


def test_unquoted_number_prefixes_are_read_as_written() -> None:
    got = policy("      timezones: {+1: America/New_York, 82: Asia/Seoul}\n")
    assert got.timezones == {"+1": "America/New_York", "82": "Asia/Seoul"}


BROKEN = [
    ("bad mode", "      mode: agent-first\n", [
        (9, "unknown callback mode 'agent-first' (one of agent_first, customer_first)")]),
    ("bad timezone", "      attempts: 2\n      timezone: Asia/Busan\n", [
        (10, "unknown time zone 'Asia/Busan' (an IANA name such as Asia/Seoul or "
             "America/New_York)")]),
    ("window without minutes", "      window: 9-17\n", [
        (9, "window '9-17' must be 'HH:MM-HH:MM' in 24-hour time, e.g. '09:00-20:00'")]),
    ("window past 23:59", "      window: \"09:00-24:00\"\n", [
        (9, "window '09:00-24:00' must be 'HH:MM-HH:MM'")]),
    ("window as a number", "      window: 900\n", [(9, "window 900 must be 'HH:MM-HH:MM'")]),
    ("retry items", "      retry:\n        - 60\n        - 5\n        - fast\n        - true\n", [
        (11, "retry delay 5 must be seconds between 10 and 86400"),
        (12, "retry delay 'fast' must be seconds between 10 and 86400"),
        (13, "retry delay True must be seconds between 10 and 86400")]),
    ("empty retry", "      retry: []\n", [
        (9, "retry needs at least one delay in seconds, e.g. [120]")]),
    ("bad prefix", "      timezones:\n        \"1\": America/New_York\n"
                   "        \"+1a\": America/Chicago\n", [
        (11, "number prefix '+1a' must be digits, optionally after + (quote it: \"+1\")")]),
    ("prefix too long", "      timezones: {\"1234567\": UTC}\n", [
        (9, "number prefix '1234567' must be digits")]),
    ("bad zone of a prefix", "      timezones:\n        \"44\": Europe/Londn\n", [
        (10, "unknown time zone 'Europe/Londn'")]),
    ("unknown field", "      mode: agent_first\n      atempts: 2\n", [
        (10, "unknown field 'atempts' in 'callback'; did you mean 'attempts'?")]),
    ("unknown field without a tip", "      colour: blue\n", [
        (9, "unknown field 'colour' in 'callback' (fields: mode, attempts, retry")]),
    ("attempts out of range", "      attempts: 0\n", [
        (9, "'callback.attempts' must be 1 to 20, not 0")]),
    ("ring_timeout as text", "      ring_timeout: long\n", [
        (9, "'callback.ring_timeout' must be a number of seconds, not text")]),
    ("block not a mapping", "", [(8, "'callback' must be a mapping, not empty")]),
    ("timezones not a mapping", "      timezones: [UTC]\n", [
        (9, "'timezones' must be a mapping, not a list")]),
]


@pytest.mark.parametrize(("fields", "expected"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_broken(fields: str, expected: list[tuple[int, str]]) -> None:
    found = problems(fields)
    assert [(d.line, d.node, d.severity) for d in found] == [
        (line, "q", "error") for line, _ in expected]
    for detail, (_, fragment) in zip(found, expected, strict=True):
        assert fragment in detail.message, detail.message


def test_every_finding_in_check_format() -> None:
    found = problems("      mode: fast\n      window: 9-5\n      timezone: Mars/Base\n")
    assert [d.report_line() for d in found] == [
        "q.yaml:9:7: error: node 'q': unknown callback mode 'fast' (one of agent_first, "
        "customer_first)",
        "q.yaml:10:7: error: node 'q': window '9-5' must be 'HH:MM-HH:MM' in 24-hour time, "
        "e.g. '09:00-20:00' (it may wrap past midnight; '00:00-00:00' is all day)",
        "q.yaml:11:7: error: node 'q': unknown time zone 'Mars/Base' (an IANA name such as "
        "Asia/Seoul or America/New_York)",
    ]


def test_findings_name_their_own_queue() -> None:
    [detail] = problems("      attempts: 2\n  r:\n    members: [a1]\n    callback: {mode: later}\n")
    assert (detail.line, detail.node) == (12, "r")
    assert "unknown callback mode 'later'" in detail.message

