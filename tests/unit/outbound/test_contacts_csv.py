"""Reading a contact list: good rows with their zone and fields; every bad row with its line
and reason; a file that cannot be read at all refused whole."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.services.outbound.campaign import CampaignConfig
from ivr.services.outbound.contacts_csv import ContactListError, parse_contacts

CAMPAIGN = CampaignConfig("c", queue="general", timezone="Asia/Seoul",
                          timezones={"+1": "America/New_York"})

GOOD = """\
number,name,language,region,Account No,consent_at,night_consent
010-1234-5678,Minji Kim,ko,,1001,2026-01-05,yes
+1 (212) 555-0100,John Smith,en,,1002,,no
+442071234567,Ann Lee,en,GB,1003,,
+13105550100,Bo Park,en,US-CA,1004,,
"""


def test_good_rows_keep_their_zone_fields_and_consent() -> None:
    parsed = parse_contacts(GOOD, CAMPAIGN, {"en", "ko"})
    assert parsed.rejected == ()
    assert parsed.columns == ("account_no",)
    minji, john, ann, bo = parsed.rows
    assert (minji.number, minji.timezone, minji.line) == ("01012345678", "Asia/Seoul", 2)
    assert minji.fields == {"account_no": "1001"} and minji.night_consent
    assert minji.consent_at == dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    assert (john.number, john.timezone) == ("+12125550100", "America/New_York")  # by prefix
    assert ann.timezone == "Europe/London"  # a country with one zone
    assert bo.timezone == "America/Los_Angeles"  # a US state


def test_every_bad_row_is_reported_with_its_line_and_reason() -> None:
    text = ("number,timezone,language,region\n"
            "01012345678,,,\n"
            "call me,,,\n"
            "1234567890123456,,,\n"
            "01012345678,,,\n"
            "0212345678,Asia/Seol,,\n"
            "0212345679,,fr,\n"
            "0212345670,,,US\n"
            "0212345671,,,\n"
            "0212345672\n")
    parsed = parse_contacts(text, CAMPAIGN, {"en", "ko"})
    assert [r.line for r in parsed.rows] == [2, 9]
    reasons = {r.line: r.reason for r in parsed.rejected}
    assert "is not a phone number" in reasons[3]
    assert "has 16 digits; a number has at most 15" in reasons[4]
    assert reasons[5] == "01012345678 is a duplicate of line 2"
    assert "unknown time zone 'Asia/Seol'" in reasons[6]
    assert "language 'fr' has no prompts" in reasons[7]
    assert "region 'US' has" in reasons[8] and "time zones" in reasons[8]
    assert reasons[10] == "1 cells; the header has 4"


def test_the_same_file_has_the_same_fingerprint() -> None:
    assert parse_contacts(GOOD, CAMPAIGN).sha256 == parse_contacts(GOOD.encode(), CAMPAIGN).sha256


def test_semicolons_and_a_byte_order_mark_are_read() -> None:
    parsed = parse_contacts("\ufeffPhone;Name\n01012345678;Minji\n".encode(), CAMPAIGN)
    assert [(r.number, r.name) for r in parsed.rows] == [("01012345678", "Minji")]


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("name,phone number2\nx,1\n", "no 'number' column"),
    ("number,number\n1,2\n", "column 'number' is given twice"),
    ("number,a-b\n1,2\n", "column 'a-b' is not a field name"),
])
def test_an_unreadable_file_is_refused_whole(text: str, message: str) -> None:
    with pytest.raises(ContactListError, match=message):
        parse_contacts(text, CAMPAIGN)


def test_a_file_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ContactListError, match="not UTF-8"):
        parse_contacts(b"number\n\xff\xfe\n", CAMPAIGN)
