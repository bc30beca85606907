"""Copies of messages in Asterisk's recordings folder (voicemail/playback.py): one per
playback, gone after it however it ends, and crash leftovers swept once surely unused."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from ivr.services.voicemail import playback
from ivr.services.voicemail.playback import PlaybackUnavailable, RecordingCopies


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def copied(copy: Path, source: Path) -> tuple[bool, int]:
    """(same bytes, permission bits)."""
    return copy.read_bytes() == source.read_bytes(), copy.stat().st_mode & 0o777


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "recording").mkdir()
    return tmp_path / "recording"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "message.wav").write_bytes(b"RIFF-message")
    return tmp_path / "message.wav"


async def test_a_copy_lives_for_the_block(folder: Path, source: Path) -> None:
    copies = RecordingCopies(folder)
    async with copies.staged(source) as first, copies.staged(source) as second:
        assert first != second, "each playback has its own copy"
        assert copied(folder / f"{first}.wav", source) == (True, 0o640)
    assert names(folder) == []


async def test_no_folder_or_no_source_is_unavailable(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(PlaybackUnavailable, match="IVR_ASTERISK_RECORDING_DIR"):
        async with RecordingCopies(None).staged(tmp_path / "message.wav"):
            pass
    with pytest.raises(PlaybackUnavailable, match="cannot copy"):
        async with RecordingCopies(folder).staged(tmp_path / "gone.wav"):
            pass
    assert names(folder) == []


async def test_a_copy_cancelled_while_written_is_removed(
        folder: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writing = threading.Event()
    real_copy = playback._copy

    def slow_copy(src: Path, target: Path) -> None:
        writing.set()
        time.sleep(0.2)
        real_copy(src, target)

    monkeypatch.setattr(playback, "_copy", slow_copy)
    copies = RecordingCopies(folder)

    async def listen() -> None:
        async with copies.staged(source):
            await asyncio.sleep(10)

    task = asyncio.create_task(listen())
    await asyncio.to_thread(writing.wait)
    task.cancel()  # the caller hangs up while the copy is being written
    with pytest.raises(asyncio.CancelledError):
        await task
    assert names(folder) == []


async def test_leftover_copies_are_swept_once_old(folder: Path) -> None:
    old, young, other = (folder / n for n in ("vmplay-a.wav", "vmplay-b.wav", "vm-take-1.wav"))
    for path in (old, young, other):
        path.write_bytes(b"x")
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    os.utime(other, (stale, stale))
    assert await RecordingCopies(folder).sweep() == 1
    assert names(folder) == ["vm-take-1.wav", "vmplay-b.wav"]
    assert await RecordingCopies(None).sweep() == 0
