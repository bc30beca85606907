"""Reading a queue's `callback:` block of flows/queues.yaml (see config.CallbackPolicy).

Apart from config_reader because its rules (clock times, time zones, number prefixes) are the
callback's own; it reports through the same reader, so findings carry file:line:col.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Any, Protocol

from ...flow.source import KeyPath
from .config import CALLBACK_MODES, CallbackPolicy

__all__ = ["read_callback", "read_timezones", "read_window", "valid_timezone"]

_SCALARS: dict[str, tuple[str, float, float]] = {
    "mode": ("text", 0, 0), "attempts": ("whole", 1, 20), "ring_timeout": ("seconds", 5, 120),
    "expire_after": ("seconds", 60, 30 * 86400), "timezone": ("text", 0, 0),
    "caller_id": ("text", 0, 0)}
_FIELDS = tuple(f.name for f in dataclass_fields(CallbackPolicy))
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_WINDOW = re.compile(r"\s*(\S+)\s*-\s*(\S+)\s*")
_PREFIX = re.compile(r"\+?[0-9]{1,6}")
_DEFAULT = CallbackPolicy()


class Reader(Protocol):
    def report(self, path: KeyPath, message: str, severity: str = ...,
               at: tuple[int, int] | None = ...) -> None: ...

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict[str, Any] | None: ...

    def fields(self, raw: Mapping[str, Any], path: KeyPath, what: str, allowed: Any,
               required: Any = ...) -> None: ...

    def scalars(self, raw: Mapping[str, Any], path: KeyPath,
                specs: Mapping[str, tuple[str, float, float]],
                null_is_absent: bool = ...) -> dict[str, Any]: ...


def valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def read_callback(reader: Reader, data: Mapping[str, Any], path: KeyPath) -> CallbackPolicy:
    here = (*path, "callback")
    if "callback" not in data or (raw := reader.mapping(
            data["callback"], here, "'callback'")) is None:
        return CallbackPolicy()
    reader.fields(raw, here, "'callback'", _FIELDS)
    values = reader.scalars(raw, here, _SCALARS)
    mode = values.get("mode")
    if mode is not None and mode not in CALLBACK_MODES:
        reader.report((*here, "mode"), f"unknown callback mode {mode!r} (one of "
                                       f"{', '.join(CALLBACK_MODES)})")
    zone = values.get("timezone")
    if zone is not None and not valid_timezone(zone):
        reader.report((*here, "timezone"), f"unknown time zone {zone!r} (an IANA name such as "
                                           "Asia/Seoul or America/New_York)")
    return CallbackPolicy(**values, retry=_retry(reader, raw, here),
                          window=_window(reader, raw, here),
                          timezones=read_timezones(reader, raw, here))


def _retry(reader: Reader, raw: Mapping[str, Any], here: KeyPath) -> tuple[float, ...]:
    if "retry" not in raw:
        return _DEFAULT.retry
    items = raw["retry"] if isinstance(raw["retry"], list) else [raw["retry"]]
    if not items:
        reader.report((*here, "retry"), "retry needs at least one delay in seconds, e.g. [120]")
    out: list[float] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | float) or not 10 <= item <= 86400:
            reader.report((*here, "retry", str(index)), f"retry delay {item!r} must be seconds "
                                                        "between 10 and 86400")
        else:
            out.append(float(item))
    return tuple(out) or _DEFAULT.retry


def _window(reader: Reader, raw: Mapping[str, Any], here: KeyPath) -> tuple[str, str]:
    if "window" not in raw:
        return _DEFAULT.window
    return read_window(reader, raw, here) or _DEFAULT.window


def read_window(reader: Reader, raw: Mapping[str, Any], here: KeyPath,
                key: str = "window") -> tuple[str, str] | None:
    """raw[key] as ("HH:MM", "HH:MM"); None (reported) if it is not one."""
    text = raw[key]
    match = _WINDOW.fullmatch(text) if isinstance(text, str) else None
    if match is None or not all(_CLOCK.fullmatch(t) for t in match.groups()):
        reader.report((*here, key), f"{key} {text!r} must be 'HH:MM-HH:MM' in 24-hour "
                                    "time, e.g. '09:00-20:00' (it may wrap past midnight; "
                                    "'00:00-00:00' is all day)")
        return None
    return match[1], match[2]


def read_timezones(reader: Reader, raw: Mapping[str, Any], here: KeyPath) -> dict[str, str]:
    """raw's `timezones:` (number prefix -> IANA zone), every bad entry reported."""
    where = (*here, "timezones")
    zones = (reader.mapping(raw["timezones"], where, "'timezones'")
             if "timezones" in raw else None) or {}
    out: dict[str, str] = {}
    for prefix, zone in zones.items():
        if not _PREFIX.fullmatch(str(prefix)):
            reader.report((*where, str(prefix)), f"number prefix {prefix!r} must be digits, "
                                                 "optionally after + (quote it: \"+1\")")
        elif not isinstance(zone, str) or not valid_timezone(zone):
            reader.report((*where, str(prefix)), f"unknown time zone {zone!r}")
        else:
            out[str(prefix)] = zone
    return out
