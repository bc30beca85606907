"""Turn values into prompt sequences. Digits for now; numbers and currency per language later."""

from __future__ import annotations

_SPECIAL = {"*": "digit-star", "#": "digit-hash"}


def digit_prompts(value: str) -> list[str]:
    """'12#' -> ['digit-1', 'digit-2', 'digit-hash']; other characters are skipped."""
    out: list[str] = []
    for char in value:
        if char.isdigit():
            out.append(f"digit-{char}")
        elif char in _SPECIAL:
            out.append(_SPECIAL[char])
    return out
