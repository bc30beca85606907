"""Fixtures of the store tests besides the databases (`db_url`, `db` and the session's
PostgreSQL are tests/unit/conftest.py's, shared with tests/unit/callback): one real scrypt hash
per demo PIN for the session, and a settable `clock`.
"""

from __future__ import annotations

import pytest

from .clock import Clock

_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _reuse_pin_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeding hashes each demo PIN (~50 ms each, on purpose); tests reuse one real scrypt
    hash per PIN for the session so that cost is paid once. Verification is never cached."""
    from ivr.services.accounts import pins

    async def cached(pin: str) -> str:
        if pin not in _HASHES:
            _HASHES[pin] = pins.hash_pin(pin)
        return _HASHES[pin]

    monkeypatch.setattr(pins, "hash_pin_async", cached)


@pytest.fixture
def clock() -> Clock:
    return Clock()
