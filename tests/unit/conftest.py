"""Fixtures for the unit tests. The ARI ones serve the tests that talk to a fake Asterisk: a
module defines `fake` (its FakeAri) and gets a started `client` and the `unclaimed` events
it saw."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.ari import AriClient, Event
from tests.fakeari import FakeAri


@pytest.fixture
async def client(fake: FakeAri) -> AsyncIterator[AriClient]:
    ari = AriClient(fake.config())
    await ari.start(wait=2.0)
    yield ari
    await ari.close()


@pytest.fixture
def unclaimed(client: AriClient) -> list[Event]:
    seen: list[Event] = []
    client.on_unclaimed(seen.append)
    return seen
