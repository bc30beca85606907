"""PIN hashing: scrypt, salted, slow on purpose, compared in constant time.

A 4-6 digit PIN has at most a million values, so a stolen table of fast hashes falls in
seconds; scrypt with n=2**14, r=8 (16 MiB and tens of milliseconds per guess) makes every guess
cost memory and time, and the per-account random salt means no guess serves two accounts.
The stored form carries its parameters (`scrypt$n$r$p$salt$hash`, base64), so they can be
raised later while old hashes keep verifying.

Hashing blocks for tens of milliseconds, so the async helpers run it in a worker thread. An
unknown account is checked against a dummy hash of the same cost, so a caller cannot tell from
the answer's timing which account numbers exist.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_N = 2**20  # stored parameters are data: bound them so a bad row cannot exhaust memory


class PinHashError(ValueError):
    """A stored PIN hash that is not in the expected form (the message never quotes it)."""


@dataclass(frozen=True, slots=True)
class _Params:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=128 * r * n * p + 2**20 * 16)


def hash_pin(pin: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
             salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(pin, salt, n, r, p, HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> _Params:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PinHashError("stored PIN hash is not in scrypt$n$r$p$salt$hash form")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise PinHashError("stored PIN hash has a malformed field") from None
    if n < 2 or n > _MAX_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise PinHashError("stored PIN hash has out-of-range scrypt parameters")
    if len(salt) < 8 or len(digest) < 16:
        raise PinHashError("stored PIN hash has a short salt or digest")
    return _Params(n, r, p, salt, digest)


def check_pin(pin: str, stored: str) -> bool:
    """Does `pin` match the stored hash? Recomputes with the stored parameters, then compares
    in constant time. Raises PinHashError for a malformed stored hash."""
    params = _parse(stored)
    candidate = _scrypt(pin, params.salt, params.n, params.r, params.p, len(params.digest))
    return hmac.compare_digest(candidate, params.digest)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random PIN with today's parameters, for accounts that do not exist."""
    return hash_pin(f"{secrets.randbelow(10**6):06d}")


async def hash_pin_async(pin: str) -> str:
    return await asyncio.to_thread(hash_pin, pin)


async def check_pin_async(pin: str, stored: str) -> bool:
    return await asyncio.to_thread(check_pin, pin, stored)


async def burn_time(pin: str) -> None:
    """Spend what a real check costs, for an unknown or locked account (timing stays flat)."""
    await asyncio.to_thread(check_pin, pin, dummy_hash())
