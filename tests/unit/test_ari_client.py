"""The ARI client against the fake ARI server: races, garbage, typed errors, reconnect, order."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from ivr.app.paths import project_root
from ivr.ari import (
    AriClient,
    AriConfig,
    AriConnectionError,
    AriError,
    AriHttpError,
    BadRequest,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    NotInStasis,
    PlaybackFinished,
    PlaybackStarted,
    ResourceGone,
    ServerError,
    ServiceUnavailable,
    StasisEnd,
    StasisStart,
    Unauthorized,
    UnknownEvent,
    Unprocessable,
    channel_key,
)
from ivr.ari.events import ChannelVarset
from tests.fakeari import FakeAri

PASSWORD = "s3cr3t-Pa55"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    async with FakeAri(password=PASSWORD) as server:
        yield server




def _dtmf(channel_id: str, digit: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "application": "ivr", "digit": digit,
            "duration_ms": 100, "channel": {"id": channel_id, "state": "Up"}, **extra}


def _varset(channel_id: str, value: int) -> dict[str, Any]:
    return {"type": "ChannelVarset", "application": "ivr", "variable": "SEQ",
            "value": str(value), "channel": {"id": channel_id, "state": "Up"}}


# --- events that arrive before the HTTP response ------------------------------------------


async def test_stasis_start_before_originate_response_reaches_the_handle(
    fake: FakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    fake.events_before_response = 0.15  # StasisStart goes out, then the POST is answered
    handle = await client.channels.originate("PJSIP/200", channel_id="out-1", app_args="x")

    # Already queued when originate() returned: it really did arrive first...
    assert handle.events is not None and handle.events.pending() == 1
    event = await handle.events.get(timeout=1.0)
    # ...and went to the handle's subscription, not to the unclaimed handler (nor was lost).
    assert isinstance(event, StasisStart) and event.channel.id == "out-1"
    assert event.args == ("x",) and not event.synthetic
    assert unclaimed == []
    assert fake.requests_to("POST", "/channels/out-1")[0].query["app"] == "ivr"


async def test_playback_finished_before_play_response_reaches_finished(
    fake: FakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    channel = fake.add_channel("ch-1")
    fake.playback_duration = 0.0
    fake.events_before_response = 0.15  # Started and Finished both precede the 201
    playback = await client.channels.handle(channel.id).play("sound:ivr/en/welcome")

    assert playback.events is not None and playback.events.pending() == 2
    finished = await playback.finished(timeout=1.0)
    assert isinstance(finished, PlaybackFinished) and finished.playback.id == playback.id
    assert finished.playback.state == "done"
    assert not any(isinstance(e, PlaybackStarted | PlaybackFinished) for e in unclaimed)
    assert f"playback:{playback.id}" not in client.router.subscribed_keys()  # closed after


async def test_play_subscribes_with_the_id_it_posts(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel("ch-1")
    playback = await client.channels.handle("ch-1").play(["sound:a", "sound:b"])
    (request,) = fake.requests_to("POST", "/channels/ch-1/play/")
    assert request.path == f"/channels/ch-1/play/{playback.id}"
    assert request.query["media"] == "sound:a,sound:b"
    assert isinstance(await playback.finished(timeout=1.0), PlaybackFinished)


async def test_missing_media_is_a_failed_playback_not_an_http_error(
    fake: FakeAri, client: AriClient,
) -> None:
    """Asterisk answers 201 for media it cannot find and then reports PlaybackFinished with
    state "failed"; the handle must finish, not hang or raise."""
    fake.add_channel("ch-1")
    fake.missing_media.add("sound:ivr/en/nothing-here")
    playback = await client.channels.handle("ch-1").play("sound:ivr/en/nothing-here")
    finished = await playback.finished(timeout=1.0)
    assert finished.playback.state == "failed"


async def test_hangup_events_in_asterisk_order(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel("ch-1")
    fake.add_channel("ch-2")
    assert sorted(c.id for c in await client.channels.list()) == ["ch-1", "ch-2"]
    handle = client.channels.handle("ch-1", subscribe=True)
    await handle.hangup()
    assert handle.events is not None
    got = [await handle.events.get(timeout=1.0) for _ in range(3)]
    assert [type(e).__name__ for e in got] == ["ChannelHangupRequest", "StasisEnd",
                                               "ChannelDestroyed"]
    assert isinstance(got[0], ChannelHangupRequest) and got[0].soft  # ARI's hangup is soft
    with pytest.raises(ResourceGone):
        await handle.hangup()
    assert [c.id for c in await client.channels.list()] == ["ch-2"]


# --- a reader that survives anything --------------------------------------------------------

GARBAGE: list[dict[str, Any] | str] = [
    "this is not JSON {",
    "",
    "[1, 2, 3]",
    '"a JSON string"',
    "null",
    {"no_type": True},
    {"type": "StasisStart", "application": "ivr"},  # no channel
    {"type": "StasisStart", "application": "ivr", "channel": "not-an-object"},
    {"type": "StasisStart", "application": "ivr", "channel": {"id": "x"}, "args": 7},
    {"type": "ChannelDtmfReceived", "channel": {"id": "ch-1"}, "duration_ms": "long"},
    {"type": "ChannelDestroyed", "channel": {"id": "ch-1"}, "cause": {"nested": 1}},
    {"type": "PlaybackFinished", "playback": None},
    {"type": "Dial", "caller": {"id": "ch-1"}},  # no peer
    {"type": 42, "channel": {"id": "ch-1"}},
    {"type": "ChannelTransferRequested2031", "channel": {"id": "ch-1"}},
    # Python's json module accepts these non-standard numbers; int() of them overflows.
    '{"type": "ChannelDestroyed", "channel": {"id": "ch-1"}, "cause": Infinity}',
    '{"type": "StasisStart", "channel": {"id": "x", "dialplan": {"priority": -Infinity}}}',
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
async def test_reader_survives_garbage_and_routes_the_next_event(
    fake: FakeAri, client: AriClient, unclaimed: list[Event], garbage: dict[str, Any] | str,
) -> None:
    sub = client.subscribe(channel_key("ch-1"))
    await fake.send_event(garbage)
    await fake.send_event(_dtmf("ch-1", "5", future_field={"added_in": "Asterisk 99"}))

    # Garbage naming ch-1 may reach its queue (as UnknownEvent, or with bad fields defaulted);
    # what matters is that the valid event after it still arrives, and nothing after that.
    event = await sub.wait_for(ChannelDtmfReceived, lambda e: e.digit == "5", timeout=1.0)
    assert event.digit == "5"
    assert client.connections == 1 and client.connected.is_set()  # no reconnect, no crash
    assert client._reader is not None and not client._reader.done()
    assert sub.pending() == 0
    assert not any(isinstance(e, ChannelDtmfReceived) for e in unclaimed)


async def test_unknown_and_malformed_events_become_unknown_events(
    fake: FakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    await fake.send_event({"type": "BrandNewEvent", "application": "ivr", "x": 1})
    await fake.send_event({"type": "StasisStart", "application": "ivr"})
    await fake.send_event("garbage")
    await fake.send_event(_dtmf("nobody", "1"))  # valid, unclaimed: marks the end
    await fake.wait_until(lambda: len(unclaimed) == 3)

    first, second, third = unclaimed
    assert type(first) is UnknownEvent and first.type == "BrandNewEvent"
    assert first.raw["x"] == 1 and first.routing_keys() == ()
    assert type(second) is UnknownEvent and second.type == "StasisStart"
    assert isinstance(third, ChannelDtmfReceived)
    assert client.events_received == 3  # the non-JSON message is not counted as an event


# --- typed errors ---------------------------------------------------------------------------


async def test_404_unknown_channel_is_resource_gone(client: AriClient) -> None:
    with pytest.raises(ResourceGone) as err:
        await client.channels.handle("nope").get()
    assert err.value.status == 404 and "Channel not found" in str(err.value)


async def test_409_channel_not_in_stasis(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel("ringing", in_stasis=False)
    with pytest.raises(NotInStasis) as err:
        await client.channels.handle("ringing").answer()
    assert err.value.status == 409
    assert fake.channels["ringing"].state == "Up"  # untouched: the fake refused it


async def test_422_and_400_from_add_channel(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel("outside", in_stasis=False)
    bridge = await client.bridges.create()
    with pytest.raises(Unprocessable) as unprocessable:
        await bridge.add("outside")
    with pytest.raises(BadRequest) as bad:
        await bridge.add("no-such-channel")
    assert (unprocessable.value.status, bad.value.status) == (422, 400)
    assert fake.bridges[bridge.id] == []


@pytest.mark.parametrize(("status", "expected"), [
    (400, BadRequest), (404, ResourceGone), (409, NotInStasis), (422, Unprocessable),
    (500, ServerError), (502, ServerError), (503, ServiceUnavailable), (418, AriHttpError),
])
async def test_status_maps_to_the_most_specific_error(
    fake: FakeAri, client: AriClient, status: int, expected: type[AriHttpError],
) -> None:
    fake.fail("GET", "/asterisk/info", status)
    with pytest.raises(AriHttpError) as err:
        await client.system.info()
    assert type(err.value) is expected and err.value.status == status
    assert err.value.method == "GET" and err.value.path == "/asterisk/info"
    info = await client.system.info()  # the failure was one-off; the client still works
    assert info.version == "22.10.1"


async def test_wrong_credentials_are_unauthorized_and_never_logged(
    fake: FakeAri, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + PASSWORD
    ari = AriClient(fake.config(password=wrong))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(Unauthorized) as at_start:
            await ari.start(wait=5.0)
        assert loop.time() - started < 1.0  # told at once, not after `wait` seconds
        assert fake.ws_rejected >= 1 and fake.ws_connections == 0
        assert not ari.connected.is_set()

        await ari.start(wait=None)
        with pytest.raises(Unauthorized) as rest:
            await ari.system.info()
        assert rest.value.status == 401
    finally:
        await ari.close()
    for text in (caplog.text, str(at_start.value), str(rest.value), repr(ari.config)):
        assert wrong not in text and PASSWORD not in text


async def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ari = AriClient(AriConfig(f"http://127.0.0.1:{port}", "ari", PASSWORD, "ivr",
                              reconnect_min=0.05, reconnect_max=0.1))
    with pytest.raises(AriError):
        await ari.start(wait=0.3)
    await ari.start(wait=None)
    try:
        with pytest.raises(AriConnectionError):
            await ari.channels.list()
        assert ari.connections == 0
    finally:
        await ari.close()


async def test_rest_connections_are_limited_below_asterisks_sessions(fake: FakeAri) -> None:
    """Asterisk refuses sessions beyond http.conf's sessionlimit; the client must queue its
    requests before that, so its limit plus the WebSocket stays under the server's."""
    limit = next(int(line.split("=")[1].split(";")[0]) for line in
                 (project_root() / "asterisk-conf" / "http.conf").read_text().splitlines()
                 if line.startswith("sessionlimit"))
    assert AriConfig("http://x", "u", "p", "ivr").max_connections + 1 < limit
    ari = AriClient(replace(fake.config(), max_connections=3))
    await ari.start(wait=2.0)
    try:
        assert ari._session is not None and ari._session.connector is not None
        assert ari._session.connector.limit == 3
    finally:
        await ari.close()


def test_credentials_are_not_in_the_config_repr() -> None:
    config = AriConfig("http://127.0.0.1:8088", "ivr-user", PASSWORD, "ivr")
    assert PASSWORD not in repr(config) and PASSWORD not in str(config)
    assert PASSWORD not in f"{config!r} {[config]} {config}"
    assert "127.0.0.1:8088" in repr(config)  # still useful for diagnostics


# --- reconnect and reconciliation -----------------------------------------------------------


async def test_reconnect_reconciles_what_happened_while_disconnected(
    fake: FakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    subs = {cid: client.subscribe(channel_key(cid)) for cid in ("stays", "goes")}
    for cid, sub in subs.items():
        await fake.emit_stasis_start(fake.add_channel(cid))
        assert isinstance(await sub.get(timeout=1.0), StasisStart)

    fake.refuse_websockets = True
    await fake.drop_websockets()
    await fake.wait_until(lambda: not client.connected.is_set())
    # While nobody listens: a tracked caller hangs up, a new caller enters the application.
    await fake.hangup_from_caller("goes")
    await fake.emit_stasis_start(
        fake.add_channel("arrived", caller_number="2002", stasis_args=("bank", "vip"))
    )
    await fake.wait_until(lambda: fake.ws_rejected >= 2)  # the client keeps trying, with backoff

    loop = asyncio.get_running_loop()
    reopened = loop.time()
    fake.refuse_websockets = False
    await fake.wait_until(lambda: client.connections == 2 and client.connected.is_set())
    assert loop.time() - reopened < 1.0

    gone = await subs["goes"].get(timeout=1.0)
    assert isinstance(gone, StasisEnd) and gone.synthetic and gone.channel.id == "goes"
    starts = [e for e in unclaimed if isinstance(e, StasisStart)]
    assert [(e.channel.id, e.synthetic) for e in starts] == [("arrived", True)]
    assert starts[0].channel.caller.number == "2002"  # fetched, not made up
    assert starts[0].args == ("bank", "vip"), "Stasis() arguments recovered from the dialplan"
    await asyncio.sleep(0.05)
    assert subs["stays"].pending() == 0  # still there: nothing synthetic for it
    assert fake.ws_connections == 2


async def test_reconnects_after_a_plain_drop_and_keeps_routing(
    fake: FakeAri, client: AriClient,
) -> None:
    sub = client.subscribe(channel_key("ch-1"))
    fake.add_channel("ch-1")
    await fake.drop_websockets()
    await fake.wait_until(lambda: client.connections == 2 and client.connected.is_set())
    await fake.send_dtmf("ch-1", "7")
    event = await sub.get(timeout=1.0)
    assert isinstance(event, ChannelDtmfReceived) and event.digit == "7"
    assert not event.synthetic and sub.pending() == 0  # ch-1 still there: no synthetic end


# --- ordering and a reader that never blocks ------------------------------------------------


async def test_per_channel_order_is_kept_when_channels_interleave(
    fake: FakeAri, client: AriClient,
) -> None:
    sub_a, sub_b = client.subscribe(channel_key("a")), client.subscribe(channel_key("b"))
    rng = random.Random(7)
    sent: dict[str, list[int]] = {"a": [], "b": []}
    for seq in range(400):
        channel_id = rng.choice("ab")
        sent[channel_id].append(seq)
        await fake.send_event(_varset(channel_id, seq))

    for channel_id, sub in (("a", sub_a), ("b", sub_b)):
        got = []
        for _ in sent[channel_id]:
            event = await sub.get(timeout=1.0)
            assert isinstance(event, ChannelVarset) and event.channel is not None
            assert event.channel.id == channel_id
            got.append(int(event.value))
        assert got == sent[channel_id]
        assert sub.pending() == 0


async def test_a_subscriber_that_never_reads_does_not_block_the_reader(
    fake: FakeAri, client: AriClient,
) -> None:
    idle = client.subscribe(channel_key("idle"))
    busy = client.subscribe(channel_key("busy"))
    for seq in range(5000):
        await fake.send_event(_varset("idle", seq))
    await fake.send_event(_dtmf("busy", "9"))
    event = await busy.get(timeout=1.0)  # promptly, right behind 5,000 unread events
    assert isinstance(event, ChannelDtmfReceived) and event.digit == "9"
    assert idle.pending() == 5000  # all kept, in a queue nobody reads; none dropped
    assert client.connections == 1  # the reader kept up: never disconnected
    first = await idle.get(timeout=0.1)
    assert isinstance(first, ChannelVarset) and first.value == "0"
