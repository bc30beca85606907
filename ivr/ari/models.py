"""Typed ARI resources. Parsing keeps the fields we use and ignores everything else.

Asterisk adds fields between versions; a missing or unknown field must never break the event
reader, so every `from_json` reads with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


def _str(data: Json, key: str, default: str = "") -> str:
    value = data.get(key, default)
    return value if isinstance(value, str) else str(value)


def _int(data: Json, key: str, default: int = 0) -> int:
    value = data.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _obj(data: Json, key: str) -> Json:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _str_list(data: Json, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value)


@dataclass(frozen=True, slots=True)
class CallerId:
    name: str = ""
    number: str = ""

    @classmethod
    def from_json(cls, data: Json) -> CallerId:
        return cls(name=_str(data, "name"), number=_str(data, "number"))


@dataclass(frozen=True, slots=True)
class DialplanLocation:
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def from_json(cls, data: Json) -> DialplanLocation:
        return cls(
            context=_str(data, "context"),
            exten=_str(data, "exten"),
            priority=_int(data, "priority"),
            app_name=_str(data, "app_name"),
            app_data=_str(data, "app_data"),
        )


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = field(default_factory=CallerId)
    connected: CallerId = field(default_factory=CallerId)
    dialplan: DialplanLocation = field(default_factory=DialplanLocation)
    language: str = ""
    creationtime: str = ""
    protocol_id: str = ""
    channelvars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Json) -> Channel:
        raw_vars = _obj(data, "channelvars")
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            state=_str(data, "state"),
            caller=CallerId.from_json(_obj(data, "caller")),
            connected=CallerId.from_json(_obj(data, "connected")),
            dialplan=DialplanLocation.from_json(_obj(data, "dialplan")),
            language=_str(data, "language"),
            creationtime=_str(data, "creationtime"),
            protocol_id=_str(data, "protocol_id"),
            channelvars={str(k): str(v) for k, v in raw_vars.items()},
        )


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Bridge:
        return cls(
            id=_str(data, "id"),
            technology=_str(data, "technology"),
            bridge_type=_str(data, "bridge_type"),
            bridge_class=_str(data, "bridge_class"),
            name=_str(data, "name"),
            channels=_str_list(data, "channels"),
        )


@dataclass(frozen=True, slots=True)
class Playback:
    id: str
    media_uri: str = ""
    target_uri: str = ""
    language: str = ""
    state: str = ""

    @classmethod
    def from_json(cls, data: Json) -> Playback:
        return cls(
            id=_str(data, "id"),
            media_uri=_str(data, "media_uri"),
            target_uri=_str(data, "target_uri"),
            language=_str(data, "language"),
            state=_str(data, "state"),
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    name: str
    format: str = ""
    state: str = ""
    target_uri: str = ""
    duration: int = 0
    talking_duration: int = 0
    silence_duration: int = 0
    cause: str = ""

    @classmethod
    def from_json(cls, data: Json) -> LiveRecording:
        return cls(
            name=_str(data, "name"),
            format=_str(data, "format"),
            state=_str(data, "state"),
            target_uri=_str(data, "target_uri"),
            duration=_int(data, "duration"),
            talking_duration=_int(data, "talking_duration"),
            silence_duration=_int(data, "silence_duration"),
            cause=_str(data, "cause"),
        )


@dataclass(frozen=True, slots=True)
class StoredRecording:
    name: str
    format: str = ""

    @classmethod
    def from_json(cls, data: Json) -> StoredRecording:
        return cls(name=_str(data, "name"), format=_str(data, "format"))


@dataclass(frozen=True, slots=True)
class Endpoint:
    technology: str
    resource: str
    state: str = ""
    channel_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Endpoint:
        return cls(
            technology=_str(data, "technology"),
            resource=_str(data, "resource"),
            state=_str(data, "state"),
            channel_ids=_str_list(data, "channel_ids"),
        )


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    channel_ids: tuple[str, ...] = ()
    bridge_ids: tuple[str, ...] = ()
    endpoint_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Application:
        return cls(
            name=_str(data, "name"),
            channel_ids=_str_list(data, "channel_ids"),
            bridge_ids=_str_list(data, "bridge_ids"),
            endpoint_ids=_str_list(data, "endpoint_ids"),
        )


@dataclass(frozen=True, slots=True)
class AsteriskInfo:
    version: str = ""
    entity_id: str = ""
    raw: Json = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Json) -> AsteriskInfo:
        system = _obj(data, "system")
        return cls(
            version=_str(system, "version"),
            entity_id=_str(system, "entity_id"),
            raw=data,
        )
