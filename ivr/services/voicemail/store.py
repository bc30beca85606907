"""Voicemail messages: the audio as a WAV file under the store's root, the index as a row.

A message is saved in one step that never leaves half a message behind: the audio goes to a
temp file in the mailbox folder (`<root>/<mailbox>/.<id>.wav.tmp`, flushed and fsynced), the
row is inserted in a transaction, the temp file is renamed to `<root>/<mailbox>/<id>.wav`
(and the folder fsynced) and only then is the row committed. Any failure removes the file and
rolls the row back. So a committed row always has its file, and a file without a row can only
come from a crash between the rename and the commit (or a commit that failed in a way that
could not be told apart from success); `sweep()` at start removes those, and any temp file a
crash left.

Deleting removes the row first and the file after it: a failure in between leaves an orphan
file nobody can see (the next sweep removes it), never a listed message without its audio.
File IO runs in worker threads; a cancelled call still waits for its thread to finish, so the
cleanup never races the write it undoes.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import io
import logging
import os
import re
import struct
import threading
import time
import uuid
import wave
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ..db import Database, Row, as_datetime

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MAILBOX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Mailbox names become folder names: no separators, no leading dot, at most 64 characters."""
_AUDIO = re.compile(r"[0-9a-f]{32}\.wav")
_TEMP = re.compile(r"\.[0-9a-f]{32}\.wav\.tmp")

SWEEP_GRACE = dt.timedelta(minutes=5)
"""sweep() leaves files younger than this alone: they may belong to a save in progress (renamed,
not yet committed), which no sweep must undo."""

_COLUMNS = ("id", "mailbox", "caller", "language", "created_at", "duration_s", "heard",
            "heard_at", "file", "size_bytes", "call_id", "queue")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM voicemail_messages"


def check_mailbox(mailbox: str) -> str:
    """The name unchanged, or ValueError: it becomes a folder name (no path traversal)."""
    if not isinstance(mailbox, str) or not MAILBOX.fullmatch(mailbox):
        raise ValueError(f"bad mailbox name {mailbox!r}: letters, digits, '_', '.', '-' "
                         "(starting with a letter or digit, at most 64)")
    return mailbox


def wav_duration(audio: bytes) -> float:
    """Seconds of audio in a PCM WAV (the frames actually present, should the header claim
    more); ValueError for anything else, so a bad payload is refused before touching disk."""
    try:
        with wave.open(io.BytesIO(audio), "rb") as w:
            rate, frame_size = w.getframerate(), w.getsampwidth() * w.getnchannels()
            frames = len(w.readframes(w.getnframes())) // frame_size
    except (wave.Error, EOFError, struct.error) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from None
    if rate <= 0:
        raise ValueError("not a PCM WAV file: no sample rate")
    return round(frames / rate, 3)


def _new_id() -> str:
    return uuid.uuid4().hex


def _utc(value: Any) -> dt.datetime | None:
    parsed = as_datetime(value)
    return None if parsed is None else parsed.astimezone(dt.UTC)


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    mailbox: str
    caller: str
    language: str
    created_at: dt.datetime
    duration_s: float
    heard: bool
    heard_at: dt.datetime | None
    """When first marked heard; None while unheard."""
    file: str
    """The audio's path relative to the store's root: '<mailbox>/<id>.wav'."""
    size_bytes: int
    call_id: str
    queue: str
    """The queue the caller left to record the message ('' if none)."""

    def as_json(self) -> dict[str, object]:
        """For the REST API: ISO timestamps, and no file path (the API serves the audio)."""
        return {
            "id": self.id, "mailbox": self.mailbox, "caller": self.caller,
            "language": self.language, "created_at": self.created_at.isoformat(),
            "duration_s": self.duration_s, "heard": self.heard,
            "heard_at": None if self.heard_at is None else self.heard_at.isoformat(),
            "size_bytes": self.size_bytes, "call_id": self.call_id, "queue": self.queue,
        }


def _message(row: Row) -> Message:
    created = _utc(row["created_at"])
    assert created is not None
    return Message(
        id=row["id"], mailbox=row["mailbox"], caller=row["caller"], language=row["language"],
        created_at=created, duration_s=float(row["duration_s"]), heard=bool(row["heard"]),
        heard_at=_utc(row["heard_at"]), file=row["file"], size_bytes=int(row["size_bytes"]),
        call_id=row["call_id"], queue=row["queue"],
    )


async def _io(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn` in a worker thread. If the caller is cancelled meanwhile, the CancelledError waits
    for the thread to finish, so whatever runs next (a cleanup) sees the IO done."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _fsync_dir(folder: Path) -> None:
    """Make a new name in `folder` durable (POSIX only: Windows cannot open a folder)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(temp: Path, audio: bytes) -> None:
    if not temp.parent.is_dir():
        temp.parent.mkdir(parents=True, exist_ok=True)
        _fsync_dir(temp.parent.parent)
    with open(temp, "xb") as f:
        f.write(audio)
        f.flush()
        os.fsync(f.fileno())


def _place(temp: Path, final: Path, placed: threading.Event) -> None:
    os.replace(temp, final)
    placed.set()
    _fsync_dir(final.parent)


def _unlink(paths: Iterable[Path]) -> int:
    """Remove the files; those already gone are fine. Returns how many were removed."""
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _scan(root: Path) -> dict[str, float]:
    """The store's own files (audio and temp) by path relative to root, with their mtimes.
    Anything else under root is not ours and is never touched."""
    found: dict[str, float] = {}
    if not root.is_dir():
        return found
    for box in root.iterdir():
        if not MAILBOX.fullmatch(box.name) or not box.is_dir():
            continue
        for f in box.iterdir():
            if _AUDIO.fullmatch(f.name) or _TEMP.fullmatch(f.name):
                try:
                    found[f"{box.name}/{f.name}"] = f.stat().st_mtime
                except FileNotFoundError:
                    continue
    return found


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


class MessageStore:
    """Voicemail messages on a Database (the migrations create `voicemail_messages`) and a
    folder of audio files, `root` (e.g. <state>/voicemail, created on demand)."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = Path(root)

    async def save(self, mailbox: str, audio: bytes, *, caller: str = "", language: str = "",
                   call_id: str = "", queue: str = "",
                   created_at: dt.datetime | None = None) -> Message:
        """Store a PCM WAV as a new unheard message: the file and the row, or neither.
        ValueError for a bad mailbox name, a non-WAV payload or a naive created_at.

        Inside a caller's transaction the row commits with it; should that transaction roll
        back after this returns, the file stays behind as an orphan for sweep()."""
        check_mailbox(mailbox)
        created = _aware(created_at or dt.datetime.now(dt.UTC), "created_at")
        message_id = _new_id()
        message = Message(
            id=message_id, mailbox=mailbox, caller=caller, language=language,
            created_at=created, duration_s=wav_duration(audio), heard=False, heard_at=None,
            file=f"{mailbox}/{message_id}.wav", size_bytes=len(audio), call_id=call_id,
            queue=queue,
        )
        final = self.root / message.file
        temp = final.with_name(f".{message.id}.wav.tmp")
        placed = threading.Event()
        try:
            await _io(_write_temp, temp, audio)
            async with self.db.transaction() as tx:
                await tx.execute(
                    f"INSERT INTO voicemail_messages ({', '.join(_COLUMNS)})"
                    f" VALUES ({', '.join('?' for _ in _COLUMNS)})",
                    *(getattr(message, c) for c in _COLUMNS),
                )
                await _io(_place, temp, final, placed)
        except BaseException:
            # never remove a file this call did not place (an id collision names another's)
            await _io(_unlink, [temp, final] if placed.is_set() else [temp])
            raise
        return message

    async def get(self, message_id: str) -> Message | None:
        row = await self.db.fetch_one(f"{_SELECT} WHERE id = ?", message_id)
        return None if row is None else _message(row)

    async def list(self, mailbox: str | None = None, *, heard: bool | None = None,
                   limit: int = 100,
                   queues: Collection[str] | None = None) -> builtins.list[Message]:
        """Newest first; optionally one mailbox's, only the heard or the unheard, only those
        left from one of `queues` (an empty collection: none)."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if queues is not None:
            if not queues:
                return []
            where.append(f"queue IN ({', '.join('?' for _ in queues)})")
            params.extend(sorted(queues))
        if mailbox is not None:
            where.append("mailbox = ?")
            params.append(mailbox)
        if heard is not None:
            where.append("heard = ?")
            params.append(heard)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetch_all(
            f"{_SELECT}{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            *params, max(0, limit),
        )
        return [_message(r) for r in rows]

    def path(self, message: Message) -> Path:
        """The audio file (it may be gone if someone removed it behind the store's back).
        ValueError if the row's file name is not one the store writes: a tampered row must
        never turn a download into a path outside the root."""
        return self._path(message.file)

    def _path(self, file: str) -> Path:
        box, _, name = file.partition("/")
        if not MAILBOX.fullmatch(box) or not _AUDIO.fullmatch(name):
            raise ValueError(f"not a voicemail file name: {file!r}")
        return self.root / box / name

    async def mark_heard(self, message_id: str, heard: bool = True) -> Message | None:
        """Heard keeps the time it was first heard; unheard clears it. None if no such
        message."""
        if heard:
            sql = "UPDATE voicemail_messages SET heard = TRUE, heard_at = COALESCE(heard_at, ?)"
            params: tuple[Any, ...] = (dt.datetime.now(dt.UTC), message_id)
        else:
            sql = "UPDATE voicemail_messages SET heard = FALSE, heard_at = NULL"
            params = (message_id,)
        row = await self.db.fetch_one(f"{sql} WHERE id = ? RETURNING {', '.join(_COLUMNS)}",
                                      *params)
        return None if row is None else _message(row)

    async def delete(self, message_id: str) -> bool:
        """Remove the row (one atomic statement, committed first), then the file (already
        gone is fine). False if there was no such message."""
        row = await self.db.fetch_one(
            "DELETE FROM voicemail_messages WHERE id = ? RETURNING file", message_id
        )
        if row is None:
            return False
        await self._remove_files([row["file"]])
        return True

    async def delete_older_than(self, cutoff: dt.datetime) -> int:
        """Retention: remove the messages created before `cutoff`, rows then files. Returns
        how many messages were removed."""
        rows = await self.db.fetch_all(
            "DELETE FROM voicemail_messages WHERE created_at < ? RETURNING file",
            _aware(cutoff, "cutoff"),
        )
        await self._remove_files(r["file"] for r in rows)
        return len(rows)

    async def _remove_files(self, files: Iterable[str]) -> None:
        paths: builtins.list[Path] = []
        for file in files:
            try:
                paths.append(self._path(file))
            except ValueError:
                log.warning("voicemail row named a foreign file %r: not removed", file)
        if paths:
            await _io(_unlink, paths)

    async def sweep(self, *, grace: dt.timedelta = SWEEP_GRACE) -> tuple[int, int]:
        """Repair what a crash may have left, at start: returns (orphan files removed, rows
        whose file is missing removed).

        An orphan is one of the store's files (audio or temp) without a row, older than
        `grace` (younger ones may belong to a save in progress). The rows are read before the
        folder is listed, so a message committed meanwhile is never taken for a row without a
        file. A row is dropped only if its mailbox folder exists but its file does not: a
        missing folder (an unmounted volume, a wrong root) removes nothing, lest the whole
        index go, and the files with it as orphans once the volume is back."""
        rows = await self.db.fetch_all("SELECT id, mailbox, file FROM voicemail_messages")
        files = await _io(_scan, self.root)
        folders = await _io(_folders, self.root)
        indexed = {r["file"] for r in rows}
        oldest = time.time() - grace.total_seconds()
        orphans = [self.root / name for name, mtime in files.items()
                   if name not in indexed and mtime < oldest]
        removed_files = await _io(_unlink, orphans) if orphans else 0
        missing = [r["id"] for r in rows if r["file"] not in files and r["mailbox"] in folders]
        removed_rows = 0
        if missing:
            async with self.db.transaction() as tx:
                for message_id in missing:
                    removed_rows += await tx.execute(
                        "DELETE FROM voicemail_messages WHERE id = ?", message_id
                    )
        if removed_files or removed_rows:
            log.warning("voicemail sweep: removed %d orphan file(s) and %d message(s) whose "
                        "audio was missing", removed_files, removed_rows)
        return removed_files, removed_rows
