"""The settable clock the store tests share (conftest.py gives it as the `clock` fixture; test
modules import the type from here)."""

from __future__ import annotations

import datetime as dt


class Clock:
    """A settable clock for stores that take `clock=`: tests move time instead of waiting."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)
