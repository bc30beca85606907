"""Parsing ARI events from realistic Asterisk 22 JSON, and where the router sends them.

Shapes follow Asterisk's rest-api/api-docs/events.json and what Asterisk 22 puts on the wire
(Channel with protocol_id, dialplan, creationtime, language; Playback with target_uri; ...).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ivr.ari import Event, EventRouter, UnknownEvent, channel_key, parse_event
from ivr.ari.events import (
    BridgeCreated,
    BridgeDestroyed,
    ChannelCreated,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    ChannelTalkingFinished,
    ChannelTalkingStarted,
    ChannelVarset,
    Dial,
    EndpointStateChange,
    PlaybackContinuing,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
)

CID = "1715000000.42"
BASE = {"application": "ivr", "timestamp": "2025-05-06T10:11:12.345+0000",
        "asterisk_id": "02:42:ac:11:00:02"}
CHANNEL: dict[str, Any] = {
    "id": CID,
    "name": "PJSIP/1001-0000002a",
    "state": "Up",
    "protocol_id": "a84b4c76e66710@127.0.0.1",
    "caller": {"name": "Alice", "number": "1001"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {"context": "from-internal", "exten": "100", "priority": 2,
                 "app_name": "Stasis", "app_data": "ivr"},
    "creationtime": "2025-05-06T10:11:10.001+0000",
    "language": "en",
    "channelvars": {"CALLERID(num)": "1001"},
    "caller_rdnis": "",  # a field we do not model: ignored
    "tenantid": "",
}
BRIDGE: dict[str, Any] = {
    "id": "br-1", "technology": "simple_bridge", "bridge_type": "mixing",
    "bridge_class": "stasis", "creator": "Stasis", "name": "queue-sales",
    "channels": [CID], "creationtime": "2025-05-06T10:11:11.000+0000", "video_mode": "none",
}


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    """A message as it comes off the WebSocket: round-tripped through JSON text."""
    message: dict[str, Any] = json.loads(json.dumps({"type": event_type, **BASE, **fields}))
    return message


def playback(target_uri: str = f"channel:{CID}", state: str = "playing") -> dict[str, Any]:
    return {"id": "pb-7", "media_uri": "sound:ivr/en/welcome",
            "next_media_uri": "sound:ivr/en/main-menu", "target_uri": target_uri,
            "language": "en", "state": state}


def recording(state: str = "recording") -> dict[str, Any]:
    return {"name": "msg-1", "format": "wav", "state": state, "target_uri": f"channel:{CID}",
            "duration": 7, "talking_duration": 5, "silence_duration": 2, "cause": ""}


def test_stasis_start_every_modelled_field() -> None:
    replaced = {**CHANNEL, "id": "1715000000.41", "name": "PJSIP/1001-00000029"}
    parsed = parse_event(event("StasisStart", args=["sales", "7"], channel=CHANNEL,
                               replace_channel=replaced))
    assert type(parsed) is StasisStart
    assert (parsed.application, parsed.timestamp, parsed.asterisk_id) == (
        "ivr", "2025-05-06T10:11:12.345+0000", "02:42:ac:11:00:02")
    assert parsed.args == ("sales", "7") and not parsed.synthetic
    ch = parsed.channel
    assert (ch.id, ch.name, ch.state, ch.language) == (CID, "PJSIP/1001-0000002a", "Up", "en")
    assert (ch.caller.name, ch.caller.number, ch.connected.number) == ("Alice", "1001", "")
    assert (ch.dialplan.context, ch.dialplan.exten, ch.dialplan.priority) == (
        "from-internal", "100", 2)
    assert (ch.dialplan.app_name, ch.dialplan.app_data) == ("Stasis", "ivr")
    assert ch.protocol_id == "a84b4c76e66710@127.0.0.1"
    assert ch.creationtime == "2025-05-06T10:11:10.001+0000"
    assert ch.channelvars == {"CALLERID(num)": "1001"}
    assert parsed.replace_channel is not None and parsed.replace_channel.id == "1715000000.41"
    assert parsed.routing_keys() == (channel_key(CID),)
    assert parsed.raw["channel"]["tenantid"] == ""  # raw kept for logs, not used for routing


def test_stasis_start_optional_fields_default() -> None:
    minimal = parse_event(event("StasisStart", args=[], channel={"id": CID}))
    assert type(minimal) is StasisStart
    assert minimal.args == () and minimal.replace_channel is None
    assert minimal.channel.caller.number == "" and minimal.channel.dialplan.priority == 0
    assert minimal.channel.channelvars == {}


@pytest.mark.parametrize("cls", [StasisEnd, ChannelCreated, ChannelStateChange,
                                 ChannelTalkingStarted])
def test_plain_channel_events(cls: type[Event]) -> None:
    parsed = parse_event(event(cls.TYPE, channel={**CHANNEL, "state": "Ringing"}))
    assert type(parsed) is cls and parsed.type == cls.TYPE
    assert getattr(parsed, "channel").state == "Ringing"  # noqa: B009 (shared by subclasses)
    assert parsed.routing_keys() == (channel_key(CID),)


def test_channel_destroyed() -> None:
    parsed = parse_event(event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing",
                               channel={**CHANNEL, "state": "Down"}))
    assert type(parsed) is ChannelDestroyed
    assert (parsed.cause, parsed.cause_txt, parsed.channel.state) == (16, "Normal Clearing",
                                                                      "Down")
    assert parsed.routing_keys() == (channel_key(CID),)


@pytest.mark.parametrize("digit", ["0", "9", "*", "#", "A"])
def test_dtmf_received(digit: str) -> None:
    parsed = parse_event(event("ChannelDtmfReceived", digit=digit, duration_ms=120,
                               channel=CHANNEL))
    assert type(parsed) is ChannelDtmfReceived
    assert (parsed.digit, parsed.duration_ms) == (digit, 120)
    assert parsed.routing_keys() == (channel_key(CID),)


def test_hangup_request_from_the_caller_and_from_ari() -> None:
    caller = parse_event(event("ChannelHangupRequest", cause=16, channel=CHANNEL))
    ours = parse_event(event("ChannelHangupRequest", cause=16, soft=True, channel=CHANNEL))
    assert type(caller) is ChannelHangupRequest and type(ours) is ChannelHangupRequest
    assert (caller.cause, caller.soft) == (16, False)
    assert (ours.cause, ours.soft) == (16, True)
    assert caller.routing_keys() == ours.routing_keys() == (channel_key(CID),)


def test_varset_on_a_channel_and_global() -> None:
    on_channel = parse_event(event("ChannelVarset", variable="LANG", value="ko",
                                   channel=CHANNEL))
    global_var = parse_event(event("ChannelVarset", variable="QUEUE_OPEN", value="1"))
    assert type(on_channel) is ChannelVarset and type(global_var) is ChannelVarset
    assert (on_channel.variable, on_channel.value) == ("LANG", "ko")
    assert on_channel.routing_keys() == (channel_key(CID),)
    assert global_var.channel is None and global_var.routing_keys() == ()


def test_talking_finished() -> None:
    parsed = parse_event(event("ChannelTalkingFinished", duration=1530, channel=CHANNEL))
    assert type(parsed) is ChannelTalkingFinished and parsed.duration == 1530


@pytest.mark.parametrize("cls", [BridgeCreated, BridgeDestroyed])
def test_bridge_lifecycle(cls: type[Event]) -> None:
    parsed = parse_event(event(cls.TYPE, bridge=BRIDGE))
    assert type(parsed) is cls
    bridge = getattr(parsed, "bridge")  # noqa: B009
    assert (bridge.id, bridge.technology, bridge.bridge_type, bridge.bridge_class) == (
        "br-1", "simple_bridge", "mixing", "stasis")
    assert bridge.name == "queue-sales" and bridge.channels == (CID,)
    assert parsed.routing_keys() == ("bridge:br-1",)


@pytest.mark.parametrize("cls", [ChannelEnteredBridge, ChannelLeftBridge])
def test_channel_in_and_out_of_a_bridge_routes_to_both(cls: type[Event]) -> None:
    parsed = parse_event(event(cls.TYPE, bridge=BRIDGE, channel=CHANNEL))
    assert type(parsed) is cls
    assert parsed.routing_keys() == ("bridge:br-1", channel_key(CID))
    without = parse_event(event(cls.TYPE, bridge=BRIDGE))
    assert type(without) is cls and without.routing_keys() == ("bridge:br-1",)


@pytest.mark.parametrize("cls", [PlaybackStarted, PlaybackContinuing, PlaybackFinished])
def test_playback_events_route_to_the_playback_and_its_channel(cls: type[Event]) -> None:
    parsed = parse_event(event(cls.TYPE, playback=playback(state="done")))
    assert type(parsed) is cls
    pb = getattr(parsed, "playback")  # noqa: B009
    assert (pb.id, pb.media_uri, pb.target_uri, pb.language, pb.state) == (
        "pb-7", "sound:ivr/en/welcome", f"channel:{CID}", "en", "done")
    assert parsed.routing_keys() == ("playback:pb-7", channel_key(CID))


@pytest.mark.parametrize(("target", "keys"), [
    ("bridge:br-1", ("playback:pb-7", "bridge:br-1")),
    ("", ("playback:pb-7",)),
    ("channel:", ("playback:pb-7",)),
    ("nonsense", ("playback:pb-7",)),
])
def test_playback_target_uri_other_than_a_channel(target: str, keys: tuple[str, ...]) -> None:
    assert parse_event(event("PlaybackFinished", playback=playback(target))).routing_keys() \
        == keys


@pytest.mark.parametrize(("cls", "state"), [(RecordingStarted, "recording"),
                                            (RecordingFinished, "done"),
                                            (RecordingFailed, "failed")])
def test_recording_events(cls: type[Event], state: str) -> None:
    parsed = parse_event(event(cls.TYPE, recording=recording(state)))
    assert type(parsed) is cls
    rec = getattr(parsed, "recording")  # noqa: B009
    assert (rec.name, rec.format, rec.state, rec.duration, rec.talking_duration,
            rec.silence_duration) == ("msg-1", "wav", state, 7, 5, 2)
    assert parsed.routing_keys() == ("recording:msg-1", channel_key(CID))


def test_dial_routes_to_peer_and_caller() -> None:
    peer = {**CHANNEL, "id": "out-1", "name": "PJSIP/agent-00000001", "state": "Ringing"}
    parsed = parse_event(event("Dial", caller=CHANNEL, peer=peer, forward="",
                               dialstring="agent", dialstatus="RINGING"))
    assert type(parsed) is Dial
    assert (parsed.dialstatus, parsed.dialstring) == ("RINGING", "agent")
    assert parsed.routing_keys() == (channel_key("out-1"), channel_key(CID))
    originated = parse_event(event("Dial", peer=peer, dialstatus="ANSWER"))
    assert type(originated) is Dial and originated.caller is None
    assert originated.routing_keys() == (channel_key("out-1"),)


def test_endpoint_state_change() -> None:
    parsed = parse_event(event("EndpointStateChange", endpoint={
        "technology": "PJSIP", "resource": "agent", "state": "online",
        "channel_ids": ["out-1"]}))
    assert type(parsed) is EndpointStateChange
    assert parsed.endpoint.state == "online" and parsed.endpoint.channel_ids == ("out-1",)
    assert parsed.routing_keys() == ("endpoint:PJSIP/agent",)


def test_unknown_type_is_kept_as_unknown_event() -> None:
    raw = event("ChannelHold", channel=CHANNEL, musicclass="default")
    parsed = parse_event(raw)
    assert type(parsed) is UnknownEvent and parsed.type == "ChannelHold"
    assert parsed.raw == raw and parsed.application == "ivr"
    # still reaches the call that owns the channel, which decides whether it cares
    assert parsed.routing_keys() == (channel_key(CID),)
    assert type(parse_event({})) is UnknownEvent and parse_event({}).type == ""


@pytest.mark.parametrize("raw", [
    {"type": "StasisStart", "args": []},
    {"type": "StasisStart", "channel": None},
    {"type": "StasisStart", "channel": [CHANNEL]},
    {"type": "PlaybackFinished", "playback": "pb-7"},
    {"type": "RecordingFinished"},
    {"type": "BridgeDestroyed", "bridge": None},
    {"type": "Dial", "caller": CHANNEL},
    {"type": "EndpointStateChange", "endpoint": 1},
], ids=lambda raw: f"{raw['type']}-{'/'.join(k for k in raw if k != 'type') or 'empty'}")
def test_malformed_known_events_become_unknown_and_never_raise(raw: dict[str, Any]) -> None:
    parsed = parse_event(copy.deepcopy(raw))
    assert type(parsed) is UnknownEvent and parsed.type == raw["type"]
    assert parsed.routing_keys() == ()


@pytest.mark.parametrize("raw", [
    {"type": "StasisStart", "channel": CHANNEL, "args": 3},
    {"type": "ChannelDtmfReceived", "channel": CHANNEL, "duration_ms": "long"},
    {"type": "ChannelDestroyed", "channel": CHANNEL, "cause": float("inf")},
    {"type": "ChannelDestroyed", "channel": CHANNEL, "cause": float("nan")},
], ids=lambda raw: f"{raw['type']}-{'/'.join(k for k in raw if k != 'type')}")
def test_garbage_in_a_scalar_field_keeps_the_event(raw: dict[str, Any]) -> None:
    """A hangup with a bad cause must still end the call: only the bad field is defaulted."""
    parsed = parse_event(copy.deepcopy(raw))
    assert type(parsed).__name__ == raw["type"]
    assert parsed.routing_keys() == (channel_key(CID),)


def test_wrong_typed_optional_fields_fall_back_to_defaults() -> None:
    odd = {**CHANNEL, "dialplan": {"priority": float("-inf")}, "caller": "Alice",
           "channelvars": ["not", "a", "map"]}
    parsed = parse_event(event("StasisEnd", channel=odd))
    assert type(parsed) is StasisEnd
    assert parsed.channel.dialplan.priority == 0 and parsed.channel.caller.number == ""
    assert parsed.channel.channelvars == {}


def test_router_delivers_once_per_subscription_and_only_to_the_right_ones() -> None:
    router = EventRouter()
    unclaimed: list[Event] = []
    router.on_unclaimed(unclaimed.append)
    by_playback = router.subscribe("playback:pb-7")
    by_channel = router.subscribe(channel_key(CID))
    by_both = router.subscribe("playback:pb-7", channel_key(CID))
    other = router.subscribe(channel_key("someone-else"))

    finished = parse_event(event("PlaybackFinished", playback=playback(state="done")))
    assert router.dispatch(finished) is True
    assert (by_playback.pending(), by_channel.pending(), by_both.pending()) == (1, 1, 1)
    assert other.pending() == 0 and unclaimed == []

    stray = parse_event(event("ChannelDtmfReceived", digit="1",
                              channel={**CHANNEL, "id": "stray"}))
    assert router.dispatch(stray) is False and unclaimed == [stray]

    by_channel.close()
    assert channel_key(CID) in router.subscribed_keys()  # still held by by_both
    by_both.close()
    assert channel_key(CID) not in router.subscribed_keys()
    assert router.dispatch(parse_event(event("StasisEnd", channel=CHANNEL))) is False
