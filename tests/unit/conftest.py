"""Fixtures for the unit tests. The ARI ones serve the tests that talk to a fake Asterisk: a
module defines `fake` (its FakeAri) and gets a started `client` and the `unclaimed` events
it saw."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from ivr.ari import AriClient, Event
from tests.fakeari import FakeAri

ROOT = Path(__file__).resolve().parents[2]


def fake_prompts(root: Path) -> Path:
    """The real manifests, with a dummy file for every prompt in both languages."""
    root.mkdir()
    for manifest in (ROOT / "prompts").glob("*.yaml"):
        shutil.copy(manifest, root / manifest.name)
        for prompt_id, texts in yaml.safe_load(manifest.read_text(encoding="utf-8")).items():
            for language in texts:
                (root / language).mkdir(exist_ok=True)
                (root / language / f"{prompt_id}.wav").write_bytes(b"RIFF-dummy")
    return root


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
