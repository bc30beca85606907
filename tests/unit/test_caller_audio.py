"""CallerAudio against the fake ARI: made only on start(), audio out, nothing left behind."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest

from ivr.ari import AriClient, AriError, Event, ResourceGone
from ivr.media.stream import FRAME_BYTES, LISTENER_ARG, CallerAudio, ListenerStopped
from tests.fakeari_media import MediaFakeAri

CALLER = "caller-1"


@pytest.fixture
async def fake() -> AsyncIterator[MediaFakeAri]:
    async with MediaFakeAri() as server:
        server.add_channel(CALLER)
        yield server




def be(values: list[int]) -> bytes:
    return struct.pack(f">{len(values)}h", *values)


def first_sample(frame: bytes) -> int:
    return int(struct.unpack_from("<h", frame)[0])


def assert_nothing_left(fake: MediaFakeAri, client: AriClient, audio: CallerAudio) -> None:
    assert set(fake.channels) <= {CALLER}, "snoop or externalMedia channel leaked"
    assert fake.bridges == {}, "bridge leaked"
    assert fake.media == {}
    assert client.router.subscribed_keys() == set(), "subscription leaked"
    assert audio.stopped.is_set() and not audio.active
    assert audio.receiver is None or audio.receiver.closed.is_set(), "socket leaked"
    for task in (audio._setup, audio._watcher, audio._teardown):
        assert task is None or task.done(), "task leaked"

async def test_nothing_is_made_until_start(fake: MediaFakeAri, client: AriClient) -> None:
    before = len(fake.requests)
    audio = CallerAudio(client, CALLER)
    await asyncio.sleep(0.05)
    assert len(fake.requests) == before and audio.receiver is None
    assert client.router.subscribed_keys() == set()
    assert [f async for f in audio.frames()] == []
    await audio.stop()  # stopping a listener that never started costs nothing either
    assert len(fake.requests) == before
    with pytest.raises(RuntimeError):
        await audio.start()


async def test_start_streams_little_endian_frames_and_stop_removes_everything(
    fake: MediaFakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    audio = CallerAudio(client, CALLER)
    await audio.start()
    assert audio.active and unclaimed == [], "our channels' StasisStarts were staged"
    assert fake.channels[audio.snoop_id].in_stasis and fake.channels[audio.media_id].in_stasis
    assert fake.bridges == {audio.bridge_id: [audio.snoop_id, audio.media_id]}
    assert fake.bridged_with(CALLER) == [], "the caller itself is never moved into a bridge"
    (snoop,) = fake.requests_to("POST", f"/channels/{CALLER}/snoop/")
    assert snoop.query["spy"] == "in" and snoop.query["whisper"] == "none"
    (media_request,) = fake.requests_to("POST", "/channels/externalMedia")
    assert media_request.query["format"] == "slin16"
    assert audio.receiver is not None
    host, port = audio.receiver.address
    assert media_request.query["external_host"] == f"{host}:{port}"
    assert media_request.query["data"] == LISTENER_ARG

    for value in (0x0102, -2, 0x7F00):
        fake.send_rtp(audio.media_id, be([value] * 320))
    got: list[int] = []
    async with asyncio.timeout(2):
        async for frame in audio.frames():
            assert len(frame) == FRAME_BYTES
            got.append(first_sample(frame))
            if len(got) == 3:
                break
    assert got == [0x0102, -2, 0x7F00]

    await audio.stop()
    hangups = {r.path for r in fake.requests if r.method == "DELETE"}
    assert hangups == {f"/channels/{audio.snoop_id}", f"/channels/{audio.media_id}",
                       f"/bridges/{audio.bridge_id}"}
    assert CALLER in fake.channels, "stopping listening never hangs up the caller"
    assert_nothing_left(fake, client, audio)
    assert [f async for f in audio.frames()] == []
    await audio.stop()  # idempotent


async def test_rtp_from_another_port_is_not_the_callers_audio(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    async with CallerAudio(client, CALLER) as audio:
        assert audio.receiver is not None
        stranger = MediaFakeAri()  # any other UDP port on this machine
        await stranger.start()
        stranger.add_channel("x")
        try:
            other = AriClient(stranger.config())
            await other.start(wait=2.0)
            host, port = audio.receiver.address
            em = await other.channels.external_media(f"{host}:{port}")
            stranger.send_rtp(em.id, be([5] * 320))
            await other.close()
        finally:
            await stranger.close()
        fake.send_rtp(audio.media_id, be([7] * 320))
        async with asyncio.timeout(2):
            frame = await anext(aiter(audio.frames()))
        assert first_sample(frame) == 7
        assert audio.receiver.stats.foreign_source == 1


async def test_caller_hanging_up_tears_everything_down(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    audio = CallerAudio(client, CALLER)
    await audio.start()
    reader = asyncio.create_task(anext(aiter(audio.frames()), None))
    await fake.hangup_from_caller(CALLER)
    await asyncio.wait_for(audio.stopped.wait(), 3)
    assert await asyncio.wait_for(reader, 1) is None, "frames() ends with the call"
    # The snoop dies with the caller; the rest we removed ourselves.
    deletes = {r.path for r in fake.requests if r.method == "DELETE"}
    assert f"/channels/{audio.media_id}" in deletes and f"/bridges/{audio.bridge_id}" in deletes
    assert audio._teardown is not None
    await audio._teardown
    assert fake.channels == {}
    assert_nothing_left(fake, client, audio)


async def test_start_on_a_caller_already_gone_raises_and_leaves_nothing(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    audio = CallerAudio(client, "no-such-caller")
    with pytest.raises(ResourceGone):
        await audio.start()
    # The three pieces are asked for at once: what was made beside the failed snoop went.
    assert len(fake.requests_to("POST", "/channels/externalMedia")) == 1
    assert_nothing_left(fake, client, audio)


async def test_stop_during_start_wins_and_leaves_nothing(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    fake.events_before_response = 0.2  # the snoop's POST is answered 0.2 s late
    audio = CallerAudio(client, CALLER)
    starting = asyncio.create_task(audio.start())
    await fake.wait_until(lambda: fake.requests_to("POST", f"/channels/{CALLER}/snoop/") or None)
    assert audio.snoop_id in fake.channels  # made, but Asterisk has not answered yet
    await audio.stop()  # waits for that answer, then undoes: nothing is made behind its back
    assert set(fake.channels) == {CALLER} and fake.bridges == {}
    assert fake.requests_to("DELETE", f"/channels/{audio.snoop_id}")
    # the bridge and the externalMedia channel were asked for beside the snoop: gone too
    assert fake.requests_to("POST", "/bridges/") and fake.requests_to(
        "DELETE", f"/channels/{audio.media_id}")
    with pytest.raises(ListenerStopped):
        await starting
    assert_nothing_left(fake, client, audio)


async def test_caller_hanging_up_during_start_fails_the_start(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    fake.events_before_response = 0.1
    audio = CallerAudio(client, CALLER)
    starting = asyncio.create_task(audio.start())
    await fake.wait_until(lambda: fake.requests_to("POST", "/channels/externalMedia") or None)
    await fake.hangup_from_caller(CALLER)
    with pytest.raises(AriError):  # ListenerStopped, or what Asterisk said first
        await starting
    await asyncio.sleep(0.2)
    assert_nothing_left(fake, client, audio)


async def test_stop_needs_no_bridge_destroyed_event(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    """Asterisk sends no BridgeDestroyed for a bridge destroyed while our channels are still in
    it (the application's subscription goes with them): the DELETE's 204 is the word. Waiting
    for the event instead stalled the caller's next prompt for the whole setup timeout."""
    fake.quiet_bridge_destroy = True
    audio = CallerAudio(client, CALLER, setup_timeout=30.0)
    await audio.start()
    async with asyncio.timeout(3):
        await audio.stop()
    assert_nothing_left(fake, client, audio)


async def test_release_returns_at_once_and_tears_down_behind(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    """release() is for a caller waiting for the next prompt: frames() ends now, nothing is
    awaited, and the teardown still removes everything."""
    fake.events_before_response = 0.2  # every answer of Asterisk's comes late
    audio = CallerAudio(client, CALLER)
    await audio.start()
    before = len(fake.requests)
    teardown = audio.release()
    assert not teardown.done() and not audio.active
    assert len(fake.requests) == before, "release() itself waits for no request"
    async with asyncio.timeout(2):
        assert [f async for f in audio.frames()] == []
        await teardown
    assert_nothing_left(fake, client, audio)
