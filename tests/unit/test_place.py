"""The caller's place (services/place.py): declared moves are made and told, others are bugs."""

from __future__ import annotations

import logging

import pytest

from ivr.services.place import (
    MOVES,
    Answering,
    Ended,
    IllegalMove,
    InFlow,
    InQueue,
    LeavingMessage,
    PlaceChanged,
    PlaceKind,
    RingingAgent,
    Whereabouts,
    WithAgent,
    view,
)


def test_a_queued_call_moves_through_its_places_and_each_move_is_told_once() -> None:
    told: list[PlaceChanged] = []
    where = Whereabouts("c1", strict=True, listeners=[told.append], clock=lambda: 5.0)
    for place in (InFlow("bank"), InQueue("general", 2), InQueue("general", 2),
                  InQueue("general", 1), RingingAgent("general", ("a1",)),
                  WithAgent("general", "a1"), Ended("caller")):
        where.move(place)
    assert [e.place.kind for e in told] == [
        PlaceKind.IN_FLOW, PlaceKind.IN_QUEUE, PlaceKind.IN_QUEUE, PlaceKind.RINGING_AGENT,
        PlaceKind.WITH_AGENT, PlaceKind.ENDED], "the same place again is no move"
    assert told[2].fields() == {"place": "in_queue", "from": "in_queue", "queue": "general",
                                "position": 1}
    assert told[3].fields()["agents"] == ["a1"] and told[0].at == 5.0
    assert where.ever(PlaceKind.WITH_AGENT) and where.ended
    assert not where.ever(PlaceKind.LEAVING_MESSAGE)


@pytest.mark.parametrize(("before", "after"), [
    ((), WithAgent("general", "a1")),                      # connected without ever queueing
    ((InFlow("bank"),), RingingAgent("general", ("a1",))),  # rung without a queue
    ((InFlow("bank"), LeavingMessage("general")), InQueue("general", 1)),
    ((InFlow("bank"), Ended("caller")), InFlow("bank")),   # nothing after the end
])
def test_an_undeclared_move_raises_where_strict(before: tuple[object, ...],
                                                after: object) -> None:
    where = Whereabouts("c1", strict=True)
    for place in before:
        where.move(place)  # type: ignore[arg-type]
    with pytest.raises(IllegalMove, match="illegal move"):
        where.move(after)  # type: ignore[arg-type]


def test_in_production_an_illegal_move_is_logged_and_made(
        caplog: pytest.LogCaptureFixture) -> None:
    where = Whereabouts("c9", strict=False)
    with caplog.at_level(logging.ERROR, logger="ivr.services.place"):
        where.move(WithAgent("general", "a1"))
    assert "call c9: illegal move answering -> with_agent" in caplog.text
    assert isinstance(where.place, WithAgent), "the call goes on where the service put it"


def test_every_kind_has_its_moves_and_only_ended_is_final() -> None:
    assert set(MOVES) == set(PlaceKind)
    assert [kind for kind, moves in MOVES.items() if not moves] == [PlaceKind.ENDED]
    assert all(PlaceKind.ENDED in moves for kind, moves in MOVES.items()
               if kind is not PlaceKind.ENDED), "a hangup can end a call anywhere"


def test_the_strict_default_comes_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_STRICT_PLACES", "1")
    assert Whereabouts("c1").strict
    monkeypatch.setenv("IVR_STRICT_PLACES", "")
    assert not Whereabouts("c1").strict


def test_a_place_as_json() -> None:
    assert view(Answering()) == {}
    assert view(LeavingMessage("general", recording=True)) == {"mailbox": "general",
                                                               "recording": True}
