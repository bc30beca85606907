"""Booking a callback on the phone: confirm the number the caller is calling from or key
another, then as soon as possible or after a time of day, then the promise is stored.

The caller's place in the queue comes along when they asked from inside one (`place`).
Returns the stored callback, or None when nothing was booked (no valid answer, the number
cannot be called); the flow then goes on from the node's `next`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from ...media.entry import EntryRules, read_entry
from ...media.say import say
from ..acd.store import EntryRow
from ..seam import CallerLeg
from .schedule import scheduled_for, timezone_for
from .service import CallbackRefused, Callbacks
from .store import Callback, normalize_number

log = logging.getLogger(__name__)

__all__ = ["BookingCaller", "book_callback"]

TRIES = 3
KEY_TIMEOUT = 6.0
DIGIT_GAP = 5.0
MAX_DIGITS = 15


BookingCaller = CallerLeg
"""What booking needs from the call: the seam's CallerLeg."""


async def _choice(caller: BookingCaller, prompts: Sequence[str], keys: str) -> str | None:
    """Play the question (a key interrupts it) and wait for one of `keys`, up to three times."""
    for _ in range(TRIES):
        await caller.play(prompts, barge_in=True)
        digit = await caller.read_digit(KEY_TIMEOUT)
        if digit is not None and digit in keys:
            return digit
        caller.discard_typeahead()
    return None


async def _keyed(caller: BookingCaller, prompt: str, *, length: int = 0) -> str:
    """Digits until # (or `length` digits, or a pause); the line engine's entry rules."""
    await caller.play([prompt], barge_in=True)
    entry = await read_entry(caller, EntryRules(
        max_length=length or MAX_DIGITS, first_timeout=DIGIT_GAP, inter_digit=DIGIT_GAP,
        ignore="*ABCD"))
    return entry.digits


def _digits(number: str, language: str) -> list[str]:
    return say("digits", number.lstrip("+"), language)


async def _number(caller: BookingCaller) -> str | None:
    own = normalize_number(caller.caller)
    lang = caller.language
    if len(own.lstrip("+")) >= 3:
        key = await _choice(caller, ["callback-your-number", *_digits(own, lang),
                                     "callback-confirm-number"], "12")
        if key == "1":
            return own
        if key is None:
            return None
    for _ in range(TRIES):
        typed = await _keyed(caller, "callback-enter-number")
        if len(typed) < 3:
            continue
        key = await _choice(caller, ["callback-your-number", *_digits(typed, lang),
                                     "callback-confirm"], "12")
        if key == "1":
            return typed
        if key is None:
            return None
    return None


async def _when(caller: BookingCaller, zone: str,
                now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """(answered, not_before): as soon as possible is (True, None)."""
    key = await _choice(caller, ["callback-when"], "12")
    if key is None:
        return False, None
    if key == "1":
        return True, None
    for _ in range(TRIES):
        typed = await _keyed(caller, "callback-enter-time", length=4)
        when = scheduled_for(typed, now, zone)
        if when is None:
            continue
        confirm = await _choice(caller, ["callback-time-is",
                                         *say("time", f"{typed[:2]}:{typed[2:]}",
                                              caller.language),
                                         "callback-confirm"], "12")
        if confirm == "1":
            return True, when
        if confirm is None:
            break
    return False, None


async def book_callback(svc: Callbacks, caller: BookingCaller, queue: str, *,
                        place: EntryRow | None = None, source: str = "node") -> Callback | None:
    config = svc.queue(queue)
    if config is None:
        caller.trace("callback_refused", queue=queue, reason="unknown_queue")
        return None
    caller.discard_typeahead()
    number = await _number(caller)
    if number is None:
        caller.trace("callback_abandoned", step="number")
        return None
    zone = timezone_for(number, config.callback)
    answered, not_before = await _when(caller, zone, svc.now())
    if not answered:
        caller.trace("callback_abandoned", step="time")
        return None
    try:
        cb = await svc.request(
            queue, number, caller=caller.caller, language=caller.language, source=source,
            priority=place.priority if place else None,
            entered_at=place.entered_at if place else None,
            orig_position=place.orig_position if place else 1, not_before=not_before,
            timezone=zone)
    except CallbackRefused as exc:
        caller.trace("callback_refused", queue=queue, reason=exc.reason)
        await caller.play(["callback-refused"], barge_in=False)
        return None
    caller.trace("callback_booked", callback=cb.id, queue=queue, kept_place=place is not None,
                 scheduled=not_before.isoformat() if not_before else None)
    await caller.play(["callback-booked"], barge_in=False)
    return cb
