"""externalMedia and snoop through the ARI client: staged like originate, typed, errors mapped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.ari import AriClient, BadRequest, Event, ExternalMediaHandle, ResourceGone, StasisStart
from ivr.ari.models import Channel
from tests.fakeari_media import MediaFakeAri


@pytest.fixture
async def fake() -> AsyncIterator[MediaFakeAri]:
    async with MediaFakeAri() as server:
        yield server




async def test_external_media_stasis_start_before_the_reply_reaches_the_handle(
    fake: MediaFakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    fake.events_before_response = 0.15  # StasisStart goes out, then the POST is answered
    handle = await client.channels.external_media(
        "127.0.0.1:40000", data="caller-audio", channel_id="em-1")

    assert isinstance(handle, ExternalMediaHandle) and handle.id == "em-1"
    assert handle.events is not None and handle.events.pending() == 1
    event = await handle.events.get(timeout=1.0)
    assert isinstance(event, StasisStart) and event.channel.id == "em-1"
    assert event.args == ("caller-audio",)
    assert unclaimed == []
    (request,) = fake.requests_to("POST", "/channels/externalMedia")
    assert request.query == {
        "channelId": "em-1", "app": "ivr", "external_host": "127.0.0.1:40000",
        "format": "slin16", "encapsulation": "rtp", "transport": "udp", "direction": "both",
        "data": "caller-audio",
    }


async def test_external_media_reports_where_asterisk_sends_rtp_from(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    handle = await client.channels.external_media("127.0.0.1:40000")
    assert handle.id.startswith("em-")
    assert handle.local_address == ("127.0.0.1", fake.media[handle.id].local_port)
    assert handle.channel.name.startswith("UnicastRTP/127.0.0.1:40000")
    assert "data" not in fake.requests_to("POST", "/channels/externalMedia")[0].query


def test_local_address_is_none_when_asterisk_did_not_say() -> None:
    quiet = Channel.from_json({"id": "em-x", "channelvars": {"UNICASTRTP_LOCAL_PORT": "x"}})
    handle = ExternalMediaHandle(None, "em-x", None, quiet)  # type: ignore[arg-type]
    assert handle.local_address is None


async def test_external_media_refused_leaves_no_subscription(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    with pytest.raises(BadRequest):
        await client.channels.external_media("no-port", channel_id="em-bad")
    assert "channel:em-bad" not in client.router.subscribed_keys()


async def test_snoop_is_staged_and_enters_the_application_with_its_arguments(
    fake: MediaFakeAri, client: AriClient, unclaimed: list[Event],
) -> None:
    fake.add_channel("caller")
    fake.events_before_response = 0.15
    snoop = await client.channels.handle("caller").snoop(
        spy="in", app_args="caller-audio", snoop_id="snoop-1")
    assert snoop.events is not None and snoop.events.pending() == 1
    event = await snoop.events.get(timeout=1.0)
    assert isinstance(event, StasisStart) and event.args == ("caller-audio",)
    assert unclaimed == []
    (request,) = fake.requests_to("POST", "/channels/caller/snoop/")
    assert request.path == "/channels/caller/snoop/snoop-1"
    assert request.query == {"spy": "in", "whisper": "none", "app": "ivr",
                             "appArgs": "caller-audio"}


async def test_snoop_on_a_caller_that_hung_up_is_resource_gone(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    with pytest.raises(ResourceGone):
        await client.channels.handle("gone").snoop(spy="in", snoop_id="snoop-2")
    assert "channel:snoop-2" not in client.router.subscribed_keys()


async def test_a_snoop_dies_with_the_channel_it_spies_on(
    fake: MediaFakeAri, client: AriClient,
) -> None:
    fake.add_channel("caller")
    snoop = await client.channels.handle("caller").snoop(spy="in", snoop_id="snoop-3")
    assert snoop.events is not None
    await snoop.events.wait_for(StasisStart, timeout=1.0)
    await fake.hangup_from_caller("caller")
    assert [type(e).__name__ for e in [await snoop.events.get(timeout=1.0) for _ in range(2)]
            ] == ["StasisEnd", "ChannelDestroyed"]
