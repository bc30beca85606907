"""The Stasis route registry (app/routes.py) on a fake Asterisk: each channel goes to the entry
that owns its first Stasis argument, subscribed before any of its events is routed; an entry
that breaks never leaves a channel in Stasis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ivr.app.routes import Fallback, Route, StasisRoutes
from ivr.ari import AriClient, ChannelDtmfReceived, ChannelHandle, StasisStart
from tests.fakeari import FakeAri


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    async with FakeAri() as server:
        yield server


@pytest.fixture
def routes(client: AriClient) -> StasisRoutes:
    registry = StasisRoutes(client)
    client.on_unclaimed(registry.on_unclaimed)
    return registry


async def test_a_channel_goes_to_the_entry_of_its_argument_with_its_events_flowing(
        fake: FakeAri, routes: StasisRoutes) -> None:
    keys: asyncio.Queue[str] = asyncio.Queue()
    taken: list[tuple[str, tuple[str, ...]]] = []

    async def mailbox(event: StasisStart, handle: ChannelHandle) -> None:
        taken.append((handle.id, event.args))
        assert handle.events is not None
        async for ev in handle.events:
            if isinstance(ev, ChannelDtmfReceived):
                await keys.put(ev.digit)
                return

    routes.add("mailbox", Route("mailbox menu", mailbox))
    routes.set_default(Route("flows", lambda event, handle: None))
    channel = fake.add_channel("m-1")
    await fake.emit_stasis_start(channel, "mailbox", "en")
    await fake.send_dtmf("m-1", "5")  # right after: no event may slip past the entry
    assert await asyncio.wait_for(keys.get(), 2.0) == "5"
    assert taken == [("m-1", ("mailbox", "en"))]
    assert routes.owners() == {"mailbox": "mailbox menu"}


async def test_the_default_and_a_matcher_take_what_no_argument_claims(
        fake: FakeAri, routes: StasisRoutes) -> None:
    seen: list[str] = []

    def note(name: str) -> Route:
        def entry(event: StasisStart, handle: ChannelHandle) -> None:
            seen.append(f"{name}:{handle.id}")

        return Route(name, entry, subscribe=False)

    routes.add_matcher(lambda event: event.args[:1] == ("caller-audio",), note("stray"))
    routes.set_default(note("flows"))
    for channel_id, args in (("c-1", ()), ("c-2", ("bank",)), ("c-3", ("caller-audio",))):
        await fake.emit_stasis_start(fake.add_channel(channel_id), *args)
    await fake.wait_until(lambda: len(seen) == 3 or None)
    assert seen == ["flows:c-1", "flows:c-2", "stray:c-3"]


async def test_an_entry_that_raises_hangs_the_channel_up(
        fake: FakeAri, routes: StasisRoutes) -> None:
    def broken(event: StasisStart, handle: ChannelHandle) -> None:
        raise RuntimeError("bug")

    routes.set_default(Route("flows", broken))
    await fake.emit_stasis_start(fake.add_channel("b-1"))
    await fake.wait_until(lambda: fake.requests_to("DELETE", "/channels/b-1") or None)
    assert "b-1" not in fake.channels


async def test_work_that_fails_hangs_up_or_continues_in_the_dialplan(
        fake: FakeAri, routes: StasisRoutes) -> None:
    async def fails(event: StasisStart, handle: ChannelHandle) -> None:
        raise RuntimeError("backend gone")

    routes.add("hang", Route("hangs up", fails))
    routes.add("dialplan", Route("continues", fails, fallback=Fallback.CONTINUE))
    await fake.emit_stasis_start(fake.add_channel("h-1"), "hang")
    await fake.emit_stasis_start(fake.add_channel("d-1"), "dialplan")
    await fake.wait_until(lambda: fake.requests_to("DELETE", "/channels/h-1") or None)
    await fake.wait_until(lambda: fake.requests_to("POST", "/channels/d-1/continue") or None)
    assert not fake.requests_to("DELETE", "/channels/d-1")
    await routes.stop()


async def test_without_a_default_an_unknown_channel_is_hung_up(
        fake: FakeAri, routes: StasisRoutes) -> None:
    await fake.emit_stasis_start(fake.add_channel("u-1"), "nobody")
    await fake.wait_until(lambda: fake.requests_to("DELETE", "/channels/u-1") or None)


def test_one_argument_one_owner(client: AriClient) -> None:
    routes = StasisRoutes(client)
    routes.add("mailbox", Route("a", lambda event, handle: None))
    with pytest.raises(ValueError, match="taken by a"):
        routes.add("mailbox", Route("b", lambda event, handle: None))
