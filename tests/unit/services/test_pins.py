"""PIN hashing: the stored format, salting, constant-time comparison, malformed hashes."""

from __future__ import annotations

import base64
import hmac

import pytest

from ivr.services.accounts import pins


def test_stored_format_carries_parameters_salt_and_hash() -> None:
    stored = pins.hash_pin("1234")
    kind, n, r, p, salt, digest = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32
    assert "1234" not in stored


def test_salted_so_equal_pins_hash_differently() -> None:
    a, b = pins.hash_pin("1234"), pins.hash_pin("1234")
    assert a != b
    assert pins.check_pin("1234", a) and pins.check_pin("1234", b)


def test_check_accepts_only_the_right_pin() -> None:
    stored = pins.hash_pin("012345")
    assert pins.check_pin("012345", stored)
    for wrong in ("12345", "0123456", "012346", "", "012345 "):
        assert not pins.check_pin(wrong, stored)


def test_old_parameters_keep_verifying() -> None:
    cheaper = pins.hash_pin("4321", n=2**10, r=4)
    assert cheaper.startswith("scrypt$1024$4$1$")
    assert pins.check_pin("4321", cheaper)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    stored = pins.hash_pin("1234")
    assert not pins.check_pin("9999", stored)
    assert pins.check_pin("1234", stored)
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)


@pytest.mark.parametrize("stored", [
    "", "bcrypt$x", "scrypt$16384$8$1$abc", "scrypt$16384$8$1$!!!$!!!",
    "scrypt$16383$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
    "scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
])
def test_malformed_stored_hashes_are_refused_without_quoting(stored: str) -> None:
    with pytest.raises(pins.PinHashError) as err:
        pins.check_pin("1234", stored)
    assert "1234" not in str(err.value)
    if stored:
        assert stored not in str(err.value)


async def test_dummy_hash_costs_the_same() -> None:
    assert pins.dummy_hash().split("$")[:4] == pins.hash_pin("0000").split("$")[:4]
    assert pins.dummy_hash() == pins.dummy_hash()
    await pins.burn_time("1234")
    stored = await pins.hash_pin_async("5555")
    assert await pins.check_pin_async("5555", stored)
