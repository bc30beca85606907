"""Grammars: normalising a flow's phrases, JSGF for pocketsphinx, phrase lists for Vosk,
interpreting what an engine heard, and unknown words reported before a call needs them."""

from __future__ import annotations

import pytest

from ivr.media.speech.grammar import Grammar, GrammarError, UnknownWordsError, normalise

MENU = {"Balance": "1", "account balance": "1", "branch hours": "2", "Agent!": "3"}


def test_normalise_keeps_words_drops_punctuation() -> None:
    assert normalise("  Account-Balance!  ") == "account-balance"
    assert normalise("I\u2019d like   an AGENT, please.") == "i'd like an agent please"
    assert normalise("잔액 조회") == "잔액 조회"
    assert normalise("--- ' ") == ""


def test_menu_grammar_jsgf() -> None:
    g = Grammar.menu(MENU, name="main-menu")
    assert g.jsgf() == (
        "#JSGF V1.0;\n"
        "grammar main_menu;\n"
        "public <main_menu> = account balance | agent | balance | branch hours;\n"
    )
    assert g.words == {"account", "balance", "agent", "branch", "hours"}


def test_menu_grammar_interprets_phrases() -> None:
    g = Grammar.menu(MENU)
    assert g.interpret("account balance") == "1"
    assert g.interpret("BALANCE") == "1"
    assert g.interpret("agent") == "3"
    assert g.interpret("balance agent") is None
    assert g.interpret("[unk]") is None
    assert g.interpret("") is None


def test_menu_grammar_refuses_ambiguity_and_empty_phrases() -> None:
    with pytest.raises(GrammarError, match="means both"):
        Grammar.menu({"agent": "3", "Agent.": "4"})
    with pytest.raises(GrammarError, match="no words"):
        Grammar.menu({"?!": "1"})
    with pytest.raises(GrammarError, match="no phrases"):
        Grammar.menu({})


def test_hyphens_and_apostrophes_stay_bare_jsgf_tokens() -> None:
    g = Grammar.menu({"X-ray": "1", "o\u2019clock": "2"})
    assert "public <menu> = o'clock | x-ray;" in g.jsgf()  # pocketsphinx refuses "quoted"


def test_digit_grammar_jsgf_lengths() -> None:
    g = Grammar.digit_string(4, 6, name="account")
    text = g.jsgf()
    assert "<account_digit> = zero | oh | one | two | three | four | five | six | seven | " \
        "eight | nine;" in text
    d = "<account_digit>"
    assert f"public <account> = {d} {d} {d} {d} [{d} [{d}]];" in text
    assert "public <digit> = <digit_digit>;" in Grammar.digit_string(1, 1, name="digit").jsgf()
    assert " oh " not in Grammar.digit_string(1, 1, oh=False).jsgf()


def test_digit_grammar_interprets_digit_strings() -> None:
    g = Grammar.digit_string(4, 6)
    assert g.interpret("one two three four") == "1234"
    assert g.interpret("oh nine zero one two") == "09012"
    assert g.interpret("one two three") is None  # too short
    assert g.interpret("one two three four five six seven") is None  # too long
    assert g.interpret("one two agent four") is None
    assert Grammar.digit_string(1, 1, oh=False).interpret("oh") is None


def test_digit_grammar_bounds() -> None:
    for lo, hi in ((0, 3), (5, 4), (1, 33)):
        with pytest.raises(GrammarError, match="digit lengths"):
            Grammar.digit_string(lo, hi)


def test_unknown_words_are_named() -> None:
    g = Grammar.menu({"balance": "1", "frobnicate the zorblax": "2"}, name="main")
    known = {"balance", "the"}
    with pytest.raises(UnknownWordsError) as err:
        g.check_words(known.__contains__, "pocketsphinx")
    assert err.value.words == ("frobnicate", "zorblax")
    assert "grammar 'main': pocketsphinx has no pronunciation for 'frobnicate', 'zorblax'" \
        in str(err.value)
    Grammar.menu({"balance": "1"}).check_words(known.__contains__, "pocketsphinx")


def test_vosk_phrase_list() -> None:
    assert Grammar.menu(MENU).vosk_phrases() == [
        "account balance", "agent", "balance", "branch hours", "[unk]"]
    assert Grammar.menu(MENU).vosk_phrases(unk=False)[-1] == "branch hours"
    digits = Grammar.digit_string(2, 4).vosk_phrases()
    assert set(digits) == {"zero", "oh", "one", "two", "three", "four", "five", "six",
                           "seven", "eight", "nine", "[unk]"}
