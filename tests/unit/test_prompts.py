"""Prompt manifest (every prompts/*.yaml) and `ivr prompts build` on a small temporary folder.

Renders for real with espeak-ng and sox: they are part of the toolchain (`make test` installs
them), so their absence fails here instead of skipping.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.media.prompts import PromptError, PromptLibrary, PromptManifest
from ivr.media.render import GITIGNORE, STATE_FILE, RenderError, build

MANIFEST = """\
hello: {en: "Hello there.", ko: "안녕하세요."}
bye: {en: "Goodbye."}
"""
NUMBERS = """\
num-7: {en: "seven", ko: "칠"}
"""


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: `apt-get install espeak-ng sox` "
                    "(`make test` does it)", pytrace=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "prompts.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "numbers.yaml").write_text(NUMBERS, encoding="utf-8")
    return folder


def listed(folder: Path) -> set[str]:
    lines = (folder / GITIGNORE).read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def audio_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def person_wav(path: Path, seconds: float = 0.5) -> bytes:
    """A 'recording': 8 kHz mono WAV of a quiet ramp, distinct from anything espeak says."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(((i * 7) % 2000).to_bytes(2, "little", signed=True)
                               for i in range(int(8000 * seconds))))
    return path.read_bytes()


# --- manifest -------------------------------------------------------------------------------


def test_manifest_merges_every_yaml_file_by_id_and_language(root: Path) -> None:
    (root / "extra.yaml").write_text('hello: {ja: "こんにちは"}\n', encoding="utf-8")
    (root / "notes.txt").write_text("not a manifest", encoding="utf-8")
    manifest = PromptManifest.load(root)
    assert manifest.texts["hello"] == {"en": "Hello there.", "ko": "안녕하세요.",
                                       "ja": "こんにちは"}
    assert manifest.text("num-7", "ko") == "칠"
    assert manifest.sources[("hello", "ja")] == root / "extra.yaml"
    assert manifest.languages() == ["en", "ja", "ko"]


def test_same_id_and_language_in_two_files_is_an_error_naming_both(root: Path) -> None:
    (root / "zz-more.yaml").write_text('num-7: {en: "SEVEN"}\n', encoding="utf-8")
    with pytest.raises(PromptError) as caught:
        PromptManifest.load(root)
    message = str(caught.value)
    assert "'num-7' (en) is defined twice" in message
    assert str(root / "numbers.yaml") in message and str(root / "zz-more.yaml") in message


@pytest.mark.parametrize("bad", ['"a b": {en: x}', '"../x": {en: x}', "x: [1, 2]",
                                 "x: {en: null}", "- just a list"])
def test_malformed_manifest_is_an_error_naming_the_file(root: Path, bad: str) -> None:
    (root / "bad.yaml").write_text(bad + "\n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"bad\.yaml"):
        PromptManifest.load(root)


def test_library_answers_from_files_and_manifest(root: Path) -> None:
    library = PromptLibrary(root)
    assert library.languages() == ["en", "ko"]
    assert library.missing(["hello", "bye", "hello"], "en") == ["hello", "bye"]
    (root / "en").mkdir()
    (root / "en" / "bye.g722").write_bytes(b"x")
    assert library.has("bye", "en") and library.missing(["hello", "bye"], "en") == ["hello"]
    assert library.media_uri("bye", "en") == "sound:ivr/en/bye"
    assert library.text("hello", "ko") == "안녕하세요." and library.text("nope", "en") == "[nope]"


# --- build ----------------------------------------------------------------------------------


def test_build_renders_8k_wav_and_16k_sln16_of_every_prompt(root: Path) -> None:
    result = build(PromptLibrary(root))
    assert sorted(p.relative_to(root).as_posix() for p in result.rendered) == [
        "en/bye.wav", "en/hello.wav", "en/num-7.wav", "ko/hello.wav", "ko/num-7.wav"]
    assert len(result.written) == 10 and result.seconds > 0 and not result.kept
    assert audio_files(root / "ko") == {"hello.wav", "hello.sln16", "num-7.wav", "num-7.sln16"}
    for language, pid in (("en", "hello"), ("ko", "hello"), ("en", "num-7")):
        with wave.open(str(root / language / f"{pid}.wav"), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            wav_seconds = w.getnframes() / 8000
        sln16 = (root / language / f"{pid}.sln16").read_bytes()
        assert not sln16.startswith(b"RIFF"), "sln16 is headerless"
        assert len(sln16) % 2 == 0
        assert abs(len(sln16) / 2 / 16000 - wav_seconds) < 0.01, "same speech at 16 kHz"
        assert 0.2 < wav_seconds < 3.0
    assert "rendered 5 prompt(s) (10 files)" in result.summary()


def test_gitignore_lists_exactly_the_rendered_files_and_a_second_build_does_nothing(
        root: Path) -> None:
    build(PromptLibrary(root))
    for language in ("en", "ko"):
        folder = root / language
        assert listed(folder) == audio_files(folder) | {GITIGNORE, STATE_FILE}
    again = build(PromptLibrary(root))
    assert again.rendered == [] and again.removed == [] and again.kept == []


def test_git_commits_recordings_and_never_rendered_files(root: Path) -> None:
    build(PromptLibrary(root))
    recorded = person_wav(root / "ko" / "greeting.wav")
    assert recorded
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uall"],
                            check=True, capture_output=True, text=True).stdout
    assert sorted(line[3:] for line in status.splitlines()) == [
        "ko/greeting.wav", "numbers.yaml", "prompts.yaml"]


def test_a_recording_dropped_in_wins_and_stale_rendered_formats_go(root: Path) -> None:
    build(PromptLibrary(root))
    en = root / "en"
    recorded = person_wav(en / "hello.wav")  # a person copies their recording over ours
    (en / "bye.ulaw").write_bytes(b"\x7f" * 4000)  # and records bye in another format
    result = build(PromptLibrary(root), force=True)
    assert sorted(p.name for p in result.kept) == ["bye.ulaw", "hello.wav"]
    assert sorted(p.name for p in result.removed) == ["bye.sln16", "bye.wav", "hello.sln16"]
    assert [p.relative_to(root).as_posix() for p in result.rendered if p.parent == en] == [
        "en/num-7.wav"], "force re-renders only what is ours"
    assert (en / "hello.wav").read_bytes() == recorded
    assert audio_files(en) == {"hello.wav", "bye.ulaw", "num-7.wav", "num-7.sln16"}
    assert listed(en) == {"num-7.wav", "num-7.sln16", GITIGNORE, STATE_FILE}
    assert build(PromptLibrary(root)).rendered == []
    (en / "hello.wav").unlink()  # the person takes the recording back: we render again
    assert [p.name for p in build(PromptLibrary(root)).rendered] == ["hello.wav"]
    assert {"hello.wav", "hello.sln16"} <= listed(en)


def test_changed_text_re_renders_and_removed_ids_lose_their_files(root: Path) -> None:
    build(PromptLibrary(root))
    before = (root / "en" / "hello.wav").read_bytes()
    (root / "prompts.yaml").write_text(
        'hello: {en: "Hello there, and welcome to the bank.", ko: "안녕하세요."}\n',
        encoding="utf-8")
    result = build(PromptLibrary(root))
    assert [p.relative_to(root).as_posix() for p in result.rendered] == ["en/hello.wav"]
    assert (root / "en" / "hello.wav").read_bytes() != before
    assert sorted(p.name for p in result.removed) == ["bye.sln16", "bye.wav"]
    assert listed(root / "en") == audio_files(root / "en") | {GITIGNORE, STATE_FILE}


def test_languages_limit_the_build(root: Path) -> None:
    result = build(PromptLibrary(root), languages=["ko"])
    assert {p.parent.name for p in result.rendered} == {"ko"}
    assert not (root / "en").exists()


def test_the_old_rendered_list_is_migrated(root: Path) -> None:
    en = root / "en"
    en.mkdir()
    (en / "hello.wav").write_bytes(b"RIFF-old-render")
    recorded = person_wav(en / "bye.wav")
    (en / ".rendered").write_text("hello.wav\n", encoding="utf-8")
    result = build(PromptLibrary(root), languages=["en"])
    assert not (en / ".rendered").exists()
    assert sorted(p.name for p in result.rendered) == ["hello.wav", "num-7.wav"]
    assert [p.name for p in result.kept] == ["bye.wav"]
    assert (en / "hello.wav").read_bytes().startswith(b"RIFF") and (en / "hello.sln16").exists()
    assert (en / "bye.wav").read_bytes() == recorded
    assert listed(en) == {"hello.wav", "hello.sln16", "num-7.wav", "num-7.sln16",
                          GITIGNORE, STATE_FILE}


def test_a_failing_render_names_the_prompt_and_keeps_what_was_done(root: Path) -> None:
    (root / "numbers.yaml").write_text('num-7: {en: "seven", xx: "?"}\n', encoding="utf-8")
    with pytest.raises(RenderError, match=r"prompt 'num-7' \(xx\): espeak-ng failed"):
        build(PromptLibrary(root))
    en = root / "en"
    assert listed(en) == audio_files(en) | {GITIGNORE, STATE_FILE}


def test_leftovers_of_a_killed_build_and_formats_we_no_longer_make_are_cleaned(
        root: Path) -> None:
    build(PromptLibrary(root), languages=["ko"])
    ko = root / "ko"
    (ko / ".hello.wav.part").write_bytes(b"half")
    # As if an older build had rendered hello as .wav and .ulaw (no .sln16).
    (ko / "hello.sln16").unlink()
    (ko / "hello.ulaw").write_bytes(b"rendered by an older build")
    state = json.loads((ko / STATE_FILE).read_text(encoding="utf-8"))
    files = state["prompts"]["hello"]["files"]
    del files["hello.sln16"]
    files["hello.ulaw"] = hashlib.sha256(b"rendered by an older build").hexdigest()
    (ko / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")

    result = build(PromptLibrary(root), languages=["ko"])
    assert [p.name for p in result.rendered] == ["hello.wav"] and not result.kept
    assert audio_files(ko) == {"hello.wav", "hello.sln16", "num-7.wav", "num-7.sln16"}
    assert not (ko / ".hello.wav.part").exists()
    assert listed(ko) == audio_files(ko) | {GITIGNORE, STATE_FILE}
