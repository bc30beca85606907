from pathlib import Path

import pytest

from ivr.services.acd import queue_log as ql
from ivr.services.acd.queue_log import QueueLogEvent, QueueLogFile, format_line, parse_line


def test_parses_asterisk_line() -> None:
    e = parse_line("1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000")
    assert e == QueueLogEvent(
        1366720340.0, "1366720340.303267", "MYQUEUE", "SIP/8007", "RINGNOANSWER", ("1000",)
    )


def test_empty_data_as_asterisk_writes_it() -> None:
    line = "1366720340|NONE|MYQUEUE|PJSIP/agent1001|ADDMEMBER|"
    e = parse_line(line)
    assert e.data == ()
    assert format_line(e) == line
    assert parse_line("1366720340|NONE|MYQUEUE|PJSIP/agent1001|ADDMEMBER").data == ()


def test_empty_fields_survive() -> None:
    e = parse_line("1700000000|1700000000.1|sales|NONE|ENTERQUEUE||5551234")
    assert e.data == ("", "5551234")
    assert format_line(e) == "1700000000|1700000000.1|sales|NONE|ENTERQUEUE||5551234"


@pytest.mark.parametrize(
    "event",
    [
        ql.enter_queue(1700000000, "1700000000.1", "sales", "+15551234"),
        ql.connect(1700000012.7, "1700000000.1", "sales", "PJSIP/a1", 12, "1700000010.5", 3),
        ql.complete(1700000100, "1700000000.1", "sales", "PJSIP/a1", 12, 88, 2, by_caller=True),
        ql.complete(1700000100, "1700000000.1", "sales", "PJSIP/a1", 12, 88, 2, by_caller=False),
        ql.left_queue(1700000030, "1700000000.2", "sales", ql.ABANDON, 1, 3, 30),
        ql.left_queue(1700000300, "1700000000.3", "sales", ql.EXITWITHTIMEOUT, 1, 1, 300),
        ql.exit_with_key(1700000040, "1700000000.4", "sales", "1", 2, 2, 40),
        ql.ring_no_answer(1700000015, "1700000000.1", "sales", "PJSIP/a2", 15.0),
        ql.ring_no_answer(1700000015, "1700000000.1", "sales", "PJSIP/a2", 2.5, canceled=True),
        ql.transfer(1700000200, "1700000000.1", "sales", "PJSIP/a1", "2000", "internal", 12,
                    188, 2),
        ql.member_event(1700000000, "sales", "PJSIP/a1", ql.ADDMEMBER),
        ql.member_event(1700000000, "NONE", "PJSIP/a1", ql.PAUSE, "lunch"),
        ql.after_call_work(1700000130, "1700000000.1", "sales", "PJSIP/a1", 30),
        QueueLogEvent(1700000000, "x", "sales", "NONE", ql.FULL),
    ],
)
def test_round_trip(event: QueueLogEvent) -> None:
    line = format_line(event)
    assert "\n" not in line
    parsed = parse_line(line)
    assert parsed.time == float(int(event.time))
    assert parsed.data == event.data
    assert parsed == QueueLogEvent(
        float(int(event.time)), event.call_id, event.queue, event.agent, event.event, event.data
    )


def test_helper_fields() -> None:
    assert format_line(
        ql.connect(1700000012.7, "c1", "sales", "PJSIP/a1", 12.4, "c2", 3)
    ) == "1700000012|c1|sales|PJSIP/a1|CONNECT|12|c2|3"
    assert ql.ring_no_answer(0, "c1", "q", "PJSIP/a2", 15.0).data == ("15000",)
    assert ql.member_event(0, "q", "PJSIP/a1", ql.REMOVEMEMBER, "ignored").data == ()
    with pytest.raises(ValueError):
        ql.left_queue(0, "c1", "q", ql.CONNECT, 1, 1, 1)
    with pytest.raises(ValueError):
        ql.member_event(0, "q", "PJSIP/a1", ql.ACW)


def test_separators_inside_fields_cannot_break_a_line() -> None:
    e = ql.enter_queue(1700000000, "c|1", "sales", "Evil|Caller\nX\r")
    line = format_line(e)
    assert line == "1700000000|c 1|sales|NONE|ENTERQUEUE||Evil Caller X "
    assert parse_line(line).data == ("", "Evil Caller X ")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "expected at least 5"),
        ("1700000000|c1|sales|NONE", "has 4 fields"),
        ("noon|c1|sales|NONE|ENTERQUEUE|", "not a number"),
        ("nan|c1|sales|NONE|ENTERQUEUE|", "not finite"),
    ],
)
def test_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_parse_lines_skips_blanks_and_names_bad_line() -> None:
    text = (
        "1700000000|c1|sales|NONE|ENTERQUEUE||555\n"
        "\n"
        "   \n"
        "1700000005|c1|sales|NONE|ABANDON|1|1|5\r\n"
    )
    events = ql.parse_lines(text)
    assert [e.event for e in events] == ["ENTERQUEUE", "ABANDON"]
    assert events[1].data == ("1", "1", "5")
    with pytest.raises(ValueError, match="line 3: "):
        ql.parse_lines(text.replace("   \n", "garbage\n"))


def test_file_append(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "asterisk" / "queue_log"
    log = QueueLogFile(path)
    first = [
        ql.member_event(1700000000, "sales", "PJSIP/a1", ql.ADDMEMBER),
        ql.enter_queue(1700000010, "c1", "sales", "555"),
    ]
    log.append(first)
    log.append([])
    second = [ql.left_queue(1700000020, "c1", "sales", ql.ABANDON, 1, 1, 10)]
    QueueLogFile(path).append(second)
    text = path.read_text(encoding="utf-8")
    assert text == (
        "1700000000|NONE|sales|PJSIP/a1|ADDMEMBER|\n"
        "1700000010|c1|sales|NONE|ENTERQUEUE||555\n"
        "1700000020|c1|sales|NONE|ABANDON|1|1|10\n"
    )
    assert ql.parse_lines(text) == [*first, *second]


def test_empty_append_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    QueueLogFile(path).append([])
    assert not path.exists()
