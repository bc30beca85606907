"""Playing a stored message to a caller: a short-lived copy in Asterisk's recordings folder.

Asterisk can only play what it can open itself, and a message lives in the app's own store
(`IVR_VOICEMAIL_DIR`), which Asterisk never sees (in chroot mode it cannot even reach it). ARI
has no upload, and the keeper deleted Asterisk's copy of the take once the message was stored,
so `Recordings.copy_stored` has nothing to copy from for a message saved earlier, possibly by
another app process. What both sides do share is Asterisk's ARI recordings folder
(`<spool>/recording`, which `ivr asterisk up` creates owned like the spool): the app copies the
message there as `vmplay-<random>.wav`, readable by Asterisk's user, plays
`recording:vmplay-<random>` on the channel and removes the copy when the playback is over, or
the call is. Every playback gets its own name, so two callers hearing one message, or a message
deleted meanwhile, never disturb each other. A copy left behind by an app that crashed goes at
the next start (`sweep`), once it is older than any playback can last: another app process
on the same Asterisk may be playing the younger ones.

The folder is `AppConfig.asterisk_recording_dir`: derived from the project's own Asterisk, or
`IVR_ASTERISK_RECORDING_DIR` for another one on this machine (or a shared volume). When
Asterisk cannot find the copy, the playback fails (PlaybackFinished with state 'failed') and
the menu says so to the caller; the error log names the setting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from .store import _io, _unlink

log = logging.getLogger(__name__)

PREFIX = "vmplay-"
SWEEP_GRACE = 3600.0
"""Seconds: longer than any message plays (they are at most 600 s)."""


class PlaybackUnavailable(Exception):
    """No folder configured, or the copy could not be written there."""


def _copy(source: Path, target: Path) -> None:
    """Copy readable by the folder's owner (Asterisk's user), never world-readable."""
    folder = target.parent.stat()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        if os.geteuid() == 0 and (folder.st_uid, folder.st_gid) != (0, 0):
            os.fchown(fd, folder.st_uid, folder.st_gid)
        with open(source, "rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
            shutil.copyfileobj(src, dst)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _leftovers(folder: Path, older_than: float) -> list[Path]:
    found: list[Path] = []
    for path in folder.glob(f"{PREFIX}*.wav") if folder.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < older_than:
                found.append(path)
    return found


class RecordingCopies:
    """Copies of messages in Asterisk's recordings folder, for the length of one playback."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    @contextlib.asynccontextmanager
    async def staged(self, source: Path) -> AsyncIterator[str]:
        """The recording name to play (`recording:<name>`) while the block runs; the copy is
        removed after it, however it ends (a hangup cancels it)."""
        if self.folder is None:
            raise PlaybackUnavailable("no Asterisk recordings folder is configured "
                                      "(IVR_ASTERISK_RECORDING_DIR)")
        name = f"{PREFIX}{uuid.uuid4().hex}"
        target = self.folder / f"{name}.wav"
        try:  # a hangup during the copy still waits for it (_io), then removes it
            try:
                await _io(_copy, source, target)
            except OSError as exc:
                raise PlaybackUnavailable(f"cannot copy {source.name} into {self.folder}: "
                                          f"{exc.strerror or exc}") from exc
            yield name
        finally:
            await _io(_unlink, [target])

    async def sweep(self, grace: float = SWEEP_GRACE) -> int:
        """Remove the copies a crashed process left, older than `grace` seconds."""
        if self.folder is None:
            return 0
        try:
            old = await _io(_leftovers, self.folder, time.time() - grace)
            removed = await _io(_unlink, old)
        except OSError as exc:
            log.warning("cannot clean %s: %s", self.folder, exc)
            return 0
        if removed:
            log.info("removed %d message copies left in %s", removed, self.folder)
        return removed
