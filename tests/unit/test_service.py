"""The service on a fake ARI: flows chosen by the dialplan's Stasis argument, and hot reload
(a valid edit serves new calls, calls in progress keep their version, a broken edit is refused
with the checker's message while the last good version keeps serving)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.app.call import Call
from ivr.app.config import AppConfig
from ivr.app.service import IvrService
from ivr.media.speech.worker import ProcessEngine
from tests.fakeari import FakeAri
from tests.unit.fake_prompts import fake_prompts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    return fake_prompts(tmp_path / "prompts")


@pytest.fixture
async def service(tmp_path: Path, prompts_dir: Path) -> AsyncIterator[tuple[FakeAri, IvrService]]:
    fake = FakeAri(playback_duration=0.01)
    await fake.start()
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    config = AppConfig(ari=fake.config(), flows_dir=flows, default_flow="bank",
                       prompts_dir=prompts_dir, trace_dir=tmp_path / "traces",
                       database_url=f"sqlite:///{tmp_path / 'ivr.db'}")
    svc = IvrService(config, reload_interval=3600)  # reloads are driven by the tests
    await svc.start()
    yield fake, svc
    await svc.stop()
    await fake.close()


async def _call(fake: FakeAri, svc: IvrService, *args: str) -> Call:
    channel = fake.add_channel()
    await fake.emit_stasis_start(channel, *args)
    return await fake.wait_until(lambda: svc.calls.get(channel.id))


async def test_the_stasis_argument_picks_the_flow(
    service: tuple[FakeAri, IvrService], caplog: pytest.LogCaptureFixture
) -> None:
    fake, svc = service
    assert (await _call(fake, svc, "demo")).flow.name == "demo"
    assert (await _call(fake, svc, "bank")).flow.name == "bank"
    assert (await _call(fake, svc)).flow.name == "bank", "no argument: the default flow"
    with caplog.at_level(logging.ERROR):
        assert (await _call(fake, svc, "nope")).flow.name == "bank"
    assert any("no flow named 'nope'" in r.getMessage() for r in caplog.records)


async def test_hot_reload_swaps_valid_edits_and_refuses_broken_ones(
    service: tuple[FakeAri, IvrService], caplog: pytest.LogCaptureFixture
) -> None:
    fake, svc = service
    demo = svc.config.flows_dir / "demo.yaml"
    original = demo.read_text()
    fake.durations = {"sound:ivr/en/welcome": 30.0}
    before = await _call(fake, svc, "demo")

    demo.write_text(original.replace('version: "1"', 'version: "2"'))
    assert await svc.registry.reload_if_changed()
    after = await _call(fake, svc, "demo")
    assert (before.flow.version, after.flow.version) == ("1", "2")
    bank = svc.registry.versions()["bank"]
    assert svc.status()["flows"] == {"versions": {"bank": bank, "demo": "2", "reminder": "1"},
                                     "reloads": 1,
                                     "refused": 0}

    broken = original.replace('version: "1"', 'version: "3"').replace(
        '"2": {target: read_back', '"2": {target: nowhere')
    demo.write_text(broken)
    with caplog.at_level(logging.ERROR):
        assert not await svc.registry.reload_if_changed()
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if '"2": {target: nowhere' in row)
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"demo.yaml:{line}:" in m and "node 'main_menu'" in m and "nowhere" in m
               for m in messages), messages
    assert svc.registry.versions()["demo"] == "2", "the last good version keeps serving"
    assert (await _call(fake, svc, "demo")).flow.version == "2"
    assert svc.status()["flows"]["refused"] == 1
    assert not await svc.registry.reload_if_changed(), "an unchanged folder is not reloaded"


async def test_speech_engines_open_at_start_and_when_a_reload_names_a_new_one(
    service: tuple[FakeAri, IvrService], caplog: pytest.LogCaptureFixture
) -> None:
    """The flows' engines load in the background from start (in worker processes by default);
    /health shows each; a reloaded flow naming another engine gets it loaded too."""
    fake, svc = service
    assert svc.status()["speech"] in ({"en/pocketsphinx": "loading"},
                                      {"en/pocketsphinx": "ready"})
    await fake.wait_until(lambda: svc.status()["speech"] == {"en/pocketsphinx": "ready"},
                          timeout=30)
    engine = await svc.ears.engine("pocketsphinx", "en")
    assert isinstance(engine, ProcessEngine)
    assert len(engine.pids()) == svc.config.speech_workers == min(2, os.cpu_count() or 1)

    text = (svc.config.flows_dir / "demo.yaml").read_text()
    (svc.config.flows_dir / "listening.yaml").write_text(
        text.replace("name: demo\n", "name: listening\n", 1)
            .replace("speech: {en: pocketsphinx}", "speech: {en: vosk}", 1))
    with caplog.at_level(logging.ERROR):
        assert await svc.reload_flows()
        await fake.wait_until(lambda: svc.status()["speech"].get("en/vosk", "loading")
                              != "loading", timeout=10)
    assert svc.status()["speech"]["en/pocketsphinx"] == "ready"
    assert svc.status()["speech"]["en/vosk"].startswith("unavailable: set IVR_VOSK_MODEL_EN")
    assert sum("IVR_VOSK_MODEL_EN" in r.getMessage() for r in caplog.records) == 1
