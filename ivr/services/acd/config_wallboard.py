"""Reading the `wallboard:` block of flows/queues.yaml: the colour thresholds of the wallboard.

    wallboard:
      longest_wait_s: {amber: 30, red: 60}       # higher is worse
      service_level: {amber: 0.8, red: 0.6}      # lower is worse
      abandonment_rate: {amber: 0.05, red: 0.1}
      waiting: {amber: 3, red: 10}

A figure beyond `amber` shows amber, beyond `red` red. Each figure's direction is fixed (a
service level is bad when low, a wait when long), so `red` must lie beyond `amber` on it; the
block is checked with the rest of the file (file:line:col) and reloaded with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .config import DEFAULT_THRESHOLDS, HIGHER_IS_WORSE, Threshold
from .config_callback import Reader

__all__ = ["DEFAULT_THRESHOLDS", "HIGHER_IS_WORSE", "Threshold", "read_wallboard"]


def read_wallboard(reader: Reader, raw: Any) -> Mapping[str, Threshold]:
    if raw is None:
        return DEFAULT_THRESHOLDS
    data = reader.mapping(raw, ("wallboard",), "'wallboard'")
    if data is None:
        return DEFAULT_THRESHOLDS
    reader.fields(data, ("wallboard",), "'wallboard'", list(HIGHER_IS_WORSE))
    out = dict(DEFAULT_THRESHOLDS)
    for name, value in data.items():
        if name not in HIGHER_IS_WORSE:
            continue
        path = ("wallboard", name)
        block = reader.mapping(value, path, f"wallboard {name!r}")
        if block is None:
            continue
        reader.fields(block, path, f"wallboard {name!r}", ("amber", "red"), ("amber", "red"))
        numbers = {k: block.get(k) for k in ("amber", "red")}
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                   for v in numbers.values()):
            reader.report(path, f"wallboard {name!r}: amber and red are numbers")
            continue
        amber, red = float(numbers["amber"]), float(numbers["red"])  # type: ignore[arg-type]
        if (red < amber) if HIGHER_IS_WORSE[name] else (red > amber):
            reader.report(path, f"wallboard {name!r}: red must be "
                          f"{'above' if HIGHER_IS_WORSE[name] else 'below'} amber "
                          f"({'higher' if HIGHER_IS_WORSE[name] else 'lower'} is worse)")
            continue
        out[name] = Threshold(amber, red)
    return out
