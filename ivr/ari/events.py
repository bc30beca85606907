"""Typed ARI events and a parser that never raises.

Every event knows the resources it concerns (`routing_keys`), which is what the router uses to
put it on the right per-call queue. Unknown types become `UnknownEvent`; malformed known ones too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .models import Bridge, Channel, Endpoint, Json, LiveRecording, Playback

log = logging.getLogger(__name__)


def channel_key(channel_id: str) -> str:
    return f"channel:{channel_id}"


def bridge_key(bridge_id: str) -> str:
    return f"bridge:{bridge_id}"


def playback_key(playback_id: str) -> str:
    return f"playback:{playback_id}"


def recording_key(name: str) -> str:
    return f"recording:{name}"


def endpoint_key(technology: str, resource: str) -> str:
    return f"endpoint:{technology}/{resource}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    type: str
    application: str = ""
    timestamp: str = ""
    asterisk_id: str = ""
    synthetic: bool = False
    """True for events the client made up itself while reconciling after a reconnect."""
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    TYPE: ClassVar[str] = ""

    def routing_keys(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """An event type this client does not model (or could not parse).

    It still reaches the subscribers of the resources it names, so a newer Asterisk's event
    about a call's channel goes to that call rather than to the unclaimed handler.
    """

    def routing_keys(self) -> tuple[str, ...]:
        keys: list[str] = []
        for name, make_key in (("channel", channel_key), ("bridge", bridge_key),
                               ("playback", playback_key)):
            obj = self.raw.get(name)
            if isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"]:
                keys.append(make_key(obj["id"]))
        return tuple(keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEvent(Event):
    channel: Channel

    def routing_keys(self) -> tuple[str, ...]:
        return (channel_key(self.channel.id),)


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(ChannelEvent):
    TYPE: ClassVar[str] = "StasisStart"
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(ChannelEvent):
    TYPE: ClassVar[str] = "StasisEnd"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelCreated"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelDestroyed"
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelStateChange"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelDtmfReceived"
    digit: str = ""
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelHangupRequest"
    cause: int = 0
    soft: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelVarset(Event):
    TYPE: ClassVar[str] = "ChannelVarset"
    variable: str = ""
    value: str = ""
    channel: Channel | None = None

    def routing_keys(self) -> tuple[str, ...]:
        return (channel_key(self.channel.id),) if self.channel else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingStarted(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelTalkingStarted"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingFinished(ChannelEvent):
    TYPE: ClassVar[str] = "ChannelTalkingFinished"
    duration: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeEvent(Event):
    bridge: Bridge

    def routing_keys(self) -> tuple[str, ...]:
        return (bridge_key(self.bridge.id),)


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeCreated(BridgeEvent):
    TYPE: ClassVar[str] = "BridgeCreated"


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(BridgeEvent):
    TYPE: ClassVar[str] = "BridgeDestroyed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(BridgeEvent):
    TYPE: ClassVar[str] = "ChannelEnteredBridge"
    channel: Channel | None = None

    def routing_keys(self) -> tuple[str, ...]:
        keys = (bridge_key(self.bridge.id),)
        return (*keys, channel_key(self.channel.id)) if self.channel else keys


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(BridgeEvent):
    TYPE: ClassVar[str] = "ChannelLeftBridge"
    channel: Channel | None = None

    def routing_keys(self) -> tuple[str, ...]:
        keys = (bridge_key(self.bridge.id),)
        return (*keys, channel_key(self.channel.id)) if self.channel else keys


def _target_key(target_uri: str) -> tuple[str, ...]:
    kind, _, ident = target_uri.partition(":")
    return (f"{kind}:{ident}",) if kind and ident else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackEvent(Event):
    playback: Playback

    def routing_keys(self) -> tuple[str, ...]:
        return (playback_key(self.playback.id), *_target_key(self.playback.target_uri))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(PlaybackEvent):
    TYPE: ClassVar[str] = "PlaybackStarted"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackContinuing(PlaybackEvent):
    TYPE: ClassVar[str] = "PlaybackContinuing"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(PlaybackEvent):
    TYPE: ClassVar[str] = "PlaybackFinished"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingEvent(Event):
    recording: LiveRecording

    def routing_keys(self) -> tuple[str, ...]:
        return (recording_key(self.recording.name), *_target_key(self.recording.target_uri))


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(RecordingEvent):
    TYPE: ClassVar[str] = "RecordingStarted"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(RecordingEvent):
    TYPE: ClassVar[str] = "RecordingFinished"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFailed(RecordingEvent):
    TYPE: ClassVar[str] = "RecordingFailed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(Event):
    TYPE: ClassVar[str] = "Dial"
    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""
    dialstring: str = ""

    def routing_keys(self) -> tuple[str, ...]:
        keys = (channel_key(self.peer.id),)
        return (*keys, channel_key(self.caller.id)) if self.caller else keys


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStateChange(Event):
    TYPE: ClassVar[str] = "EndpointStateChange"
    endpoint: Endpoint

    def routing_keys(self) -> tuple[str, ...]:
        return (endpoint_key(self.endpoint.technology, self.endpoint.resource),)


def _num(data: Json, key: str) -> int:
    """Lenient integer: a garbage number becomes 0 rather than costing the whole event."""
    try:
        return int(data.get(key) or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _args(data: Json) -> tuple[str, ...]:
    value = data.get("args")
    return tuple(str(a) for a in value) if isinstance(value, list) else ()


def _channel(data: Json, key: str) -> Channel | None:
    value = data.get(key)
    return Channel.from_json(value) if isinstance(value, dict) else None


def _required_channel(data: Json, key: str = "channel") -> Channel:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"missing {key}")
    return Channel.from_json(value)


def _required(data: Json, key: str) -> Json:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"missing {key}")
    return value


_Builder = Callable[[Json, dict[str, Any]], Event]


def _channel_event(cls: type[ChannelEvent]) -> _Builder:
    return lambda d, base: cls(channel=_required_channel(d), **base)


_BUILDERS: dict[str, _Builder] = {
    "StasisStart": lambda d, base: StasisStart(
        channel=_required_channel(d),
        args=_args(d),
        replace_channel=_channel(d, "replace_channel"),
        **base,
    ),
    "StasisEnd": _channel_event(StasisEnd),
    "ChannelCreated": _channel_event(ChannelCreated),
    "ChannelStateChange": _channel_event(ChannelStateChange),
    "ChannelTalkingStarted": _channel_event(ChannelTalkingStarted),
    "ChannelDestroyed": lambda d, base: ChannelDestroyed(
        channel=_required_channel(d),
        cause=_num(d, "cause"),
        cause_txt=str(d.get("cause_txt") or ""),
        **base,
    ),
    "ChannelDtmfReceived": lambda d, base: ChannelDtmfReceived(
        channel=_required_channel(d),
        digit=str(d.get("digit") or ""),
        duration_ms=_num(d, "duration_ms"),
        **base,
    ),
    "ChannelHangupRequest": lambda d, base: ChannelHangupRequest(
        channel=_required_channel(d),
        cause=_num(d, "cause"),
        soft=bool(d.get("soft", False)),
        **base,
    ),
    "ChannelVarset": lambda d, base: ChannelVarset(
        variable=str(d.get("variable") or ""),
        value=str(d.get("value") or ""),
        channel=_channel(d, "channel"),
        **base,
    ),
    "ChannelTalkingFinished": lambda d, base: ChannelTalkingFinished(
        channel=_required_channel(d), duration=_num(d, "duration"), **base
    ),
    "BridgeCreated": lambda d, base: BridgeCreated(
        bridge=Bridge.from_json(_required(d, "bridge")), **base
    ),
    "BridgeDestroyed": lambda d, base: BridgeDestroyed(
        bridge=Bridge.from_json(_required(d, "bridge")), **base
    ),
    "ChannelEnteredBridge": lambda d, base: ChannelEnteredBridge(
        bridge=Bridge.from_json(_required(d, "bridge")), channel=_channel(d, "channel"), **base
    ),
    "ChannelLeftBridge": lambda d, base: ChannelLeftBridge(
        bridge=Bridge.from_json(_required(d, "bridge")), channel=_channel(d, "channel"), **base
    ),
    "Dial": lambda d, base: Dial(
        peer=_required_channel(d, "peer"),
        caller=_channel(d, "caller"),
        dialstatus=str(d.get("dialstatus") or ""),
        dialstring=str(d.get("dialstring") or ""),
        **base,
    ),
    "EndpointStateChange": lambda d, base: EndpointStateChange(
        endpoint=Endpoint.from_json(_required(d, "endpoint")), **base
    ),
}

for _cls in (PlaybackStarted, PlaybackContinuing, PlaybackFinished):
    _BUILDERS[_cls.TYPE] = lambda d, base, c=_cls: c(  # type: ignore[misc]
        playback=Playback.from_json(_required(d, "playback")), **base
    )
for _rcls in (RecordingStarted, RecordingFinished, RecordingFailed):
    _BUILDERS[_rcls.TYPE] = lambda d, base, c=_rcls: c(  # type: ignore[misc]
        recording=LiveRecording.from_json(_required(d, "recording")), **base
    )


def parse_event(data: Json) -> Event:
    """Turn one decoded WebSocket message into an Event; never raises."""
    event_type = str(data.get("type") or "")
    base: dict[str, Any] = {
        "type": event_type,
        "application": str(data.get("application") or ""),
        "timestamp": str(data.get("timestamp") or ""),
        "asterisk_id": str(data.get("asterisk_id") or ""),
        "raw": data,
    }
    builder = _BUILDERS.get(event_type)
    if builder is None:
        return UnknownEvent(**base)
    try:
        return builder(data, base)
    except Exception as exc:  # e.g. OverflowError from int(Infinity): must not kill the reader
        log.warning("malformed %s event kept as unknown: %r", event_type, exc)
        return UnknownEvent(**base)
