"""The voicemail store on SQLite and PostgreSQL: a file plus a row, saved whole or not at all."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import threading
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ivr.services.db import Database
from ivr.services.voicemail import store as store_module
from ivr.services.voicemail.store import MessageStore, check_mailbox, wav_duration

T0 = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A small 8 kHz 16-bit mono WAV (a gentle ramp, so files differ in content)."""
    frames = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join((i % 512).to_bytes(2, "little") for i in range(frames)))
    return buf.getvalue()


def files(root: Path) -> list[str]:
    """Every file under root (temp files included), relative to it."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "voicemail"


@pytest.fixture
def store(db: Database, root: Path) -> MessageStore:
    return MessageStore(db, root)


def test_wav_duration_comes_from_the_audio() -> None:
    assert wav_duration(wav(1.5)) == 1.5
    assert wav_duration(wav(0.25, rate=16000)) == 0.25
    assert wav_duration(wav(0)) == 0.0
    assert wav_duration(wav(2.0)[:-8000]) == 1.5  # the header claims more than is there
    for bad in (b"", b"hello", b"RIFF\x00\x00\x00\x00WAVE", wav(1.0)[:20]):
        with pytest.raises(ValueError, match="not a PCM WAV"):
            wav_duration(bad)


def test_mailbox_names() -> None:
    for good in ("1001", "sales", "a", "Team_2.east-1", "x" * 64):
        assert check_mailbox(good) == good
    for bad in ("", ".", "..", "../etc", ".hidden", "a/b", "a\\b", "-x", "_x", "x" * 65,
                "sales\n", "a b", "사서함", "/abs"):
        with pytest.raises(ValueError, match="bad mailbox name"):
            check_mailbox(bad)


async def test_save_writes_the_file_and_the_row(store: MessageStore, root: Path) -> None:
    audio = wav(2.5)
    saved = await store.save("1001", audio, caller="01012345678", language="ko",
                             call_id="c1", queue="sales", created_at=T0)
    assert len(saved.id) == 32 and saved.mailbox == "1001"
    assert (saved.duration_s, saved.size_bytes, saved.heard, saved.heard_at) == (
        2.5, len(audio), False, None)
    assert saved.file == f"1001/{saved.id}.wav"
    assert store.path(saved) == root / "1001" / f"{saved.id}.wav"
    assert store.path(saved).read_bytes() == audio
    assert files(root) == [f"1001/{saved.id}.wav"]  # no temp file left
    assert await store.get(saved.id) == saved
    assert await store.get("nope") is None


async def test_list_newest_first_by_mailbox_and_heard(store: MessageStore) -> None:
    assert await store.list() == []
    a = await store.save("1001", wav(0.1), created_at=T0)
    b = await store.save("1002", wav(0.2), created_at=T0 + dt.timedelta(minutes=1))
    c = await store.save("1001", wav(0.3), created_at=T0 + dt.timedelta(minutes=2))
    assert [m.id for m in await store.list()] == [c.id, b.id, a.id]
    assert [m.id for m in await store.list("1001")] == [c.id, a.id]
    assert [m.id for m in await store.list(limit=2)] == [c.id, b.id]
    assert await store.list("9999") == []
    await store.mark_heard(a.id)
    assert [m.id for m in await store.list(heard=True)] == [a.id]
    assert [m.id for m in await store.list(heard=False)] == [c.id, b.id]
    assert [m.id for m in await store.list("1001", heard=False)] == [c.id]


async def test_created_at_defaults_to_now_in_utc(store: MessageStore) -> None:
    before = dt.datetime.now(dt.UTC)
    saved = await store.save("1001", wav(0.1))
    assert before <= saved.created_at <= dt.datetime.now(dt.UTC)
    seoul = dt.timezone(dt.timedelta(hours=9))
    local = await store.save("1001", wav(0.1), created_at=T0.astimezone(seoul))
    stored = await store.get(local.id)
    assert stored is not None and stored.created_at == T0
    assert stored.created_at.tzinfo == dt.UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.save("1001", wav(0.1), created_at=dt.datetime(2026, 11, 22))


async def test_korean_text_round_trips(store: MessageStore) -> None:
    saved = await store.save("1001", wav(0.1), caller="홍길동 <01012345678>",
                             language="ko-KR 한국어", queue="상담", created_at=T0)
    stored = await store.get(saved.id)
    assert stored is not None
    assert (stored.caller, stored.language, stored.queue) == (
        "홍길동 <01012345678>", "ko-KR 한국어", "상담")
    assert stored.as_json() == {
        "id": saved.id, "mailbox": "1001", "caller": "홍길동 <01012345678>",
        "language": "ko-KR 한국어", "created_at": "2026-11-22T10:00:00+00:00",
        "duration_s": 0.1, "heard": False, "heard_at": None, "size_bytes": saved.size_bytes,
        "call_id": "", "queue": "상담",
    }


async def test_mark_heard_and_unheard(store: MessageStore) -> None:
    saved = await store.save("1001", wav(0.1), created_at=T0)
    before = dt.datetime.now(dt.UTC)
    heard = await store.mark_heard(saved.id)
    assert heard is not None and heard.heard and heard.heard_at is not None
    assert before <= heard.heard_at <= dt.datetime.now(dt.UTC)
    assert heard.heard_at.tzinfo == dt.UTC
    assert await store.get(saved.id) == heard
    again = await store.mark_heard(saved.id)  # heard again: the first time stays
    assert again == heard
    unheard = await store.mark_heard(saved.id, heard=False)
    assert unheard is not None and (unheard.heard, unheard.heard_at) == (False, None)
    assert await store.get(saved.id) == unheard
    assert unheard.as_json()["heard_at"] is None
    relistened = await store.mark_heard(saved.id)
    assert relistened is not None and relistened.heard_at is not None
    assert relistened.as_json()["heard_at"] == relistened.heard_at.isoformat()
    assert await store.mark_heard("nope") is None


async def test_delete_removes_row_and_file(store: MessageStore, root: Path) -> None:
    keep = await store.save("1001", wav(0.1), created_at=T0)
    gone = await store.save("1001", wav(0.2), created_at=T0)
    assert await store.delete(gone.id) is True
    assert await store.get(gone.id) is None
    assert not store.path(gone).exists()
    assert files(root) == [keep.file]
    assert await store.delete(gone.id) is False
    store.path(keep).unlink()  # a file already gone is fine
    assert await store.delete(keep.id) is True
    assert await store.list() == []


async def test_retention_removes_only_older_messages(store: MessageStore, root: Path) -> None:
    old = [await store.save("1001", wav(0.1), created_at=T0 - dt.timedelta(days=d))
           for d in (40, 31)]
    old.append(await store.save("1002", wav(0.1), created_at=T0 - dt.timedelta(days=35)))
    recent = [await store.save("1001", wav(0.1), created_at=T0 - dt.timedelta(days=29)),
              await store.save("1002", wav(0.1), created_at=T0)]
    assert await store.delete_older_than(T0 - dt.timedelta(days=30)) == 3
    assert sorted(m.id for m in await store.list()) == sorted(m.id for m in recent)
    assert files(root) == sorted(m.file for m in recent)
    assert all(not store.path(m).exists() for m in old)
    assert await store.delete_older_than(T0 - dt.timedelta(days=30)) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.delete_older_than(dt.datetime(2026, 1, 1))


async def test_non_wav_is_refused_before_touching_disk(store: MessageStore,
                                                       root: Path) -> None:
    with pytest.raises(ValueError, match="not a PCM WAV"):
        await store.save("1001", b"ID3\x04 an mp3, say")
    assert files(root) == []
    assert await store.list() == []


async def test_bad_mailbox_is_refused(store: MessageStore, root: Path, tmp_path: Path) -> None:
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="bad mailbox name"):
            await store.save(bad, wav(0.1))
    assert [f for f in files(tmp_path) if not f.startswith("ivr.db")] == []
    assert await store.list() == []


async def test_a_failing_insert_leaves_neither_file_nor_row(
        store: MessageStore, db: Database, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = await store.save("1001", wav(0.1), created_at=T0)
    real = db.transaction

    class Failing:
        def __init__(self, tx: Any) -> None:
            self._tx = tx

        async def execute(self, sql: str, *params: Any) -> int:
            raise RuntimeError("disk full")

    @asynccontextmanager
    async def failing() -> AsyncIterator[Any]:
        async with real() as tx:
            yield Failing(tx)

    monkeypatch.setattr(db, "transaction", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        await store.save("1001", wav(0.2))
    with pytest.raises(RuntimeError, match="disk full"):
        await store.save("2002", wav(0.2))  # a mailbox folder made for the message
    monkeypatch.setattr(db, "transaction", real)
    assert [m.id for m in await store.list()] == [keep.id]
    assert files(root) == [keep.file]


async def test_an_id_collision_leaves_the_other_message_alone(
        store: MessageStore, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await store.save("1001", wav(0.1), created_at=T0)
    monkeypatch.setattr(store_module, "_new_id", lambda: first.id)
    with pytest.raises(Exception) as caught:
        await store.save("1001", wav(0.3))
    assert not isinstance(caught.value, ValueError)  # the primary key refused it
    assert await store.list() == [first]
    assert files(root) == [first.file]
    assert store.path(first).read_bytes() == wav(0.1)


async def test_a_failure_after_the_rename_removes_the_file(
        store: MessageStore, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store_module._place

    def place_then_fail(*args: Any) -> None:
        real(*args)
        raise OSError("folder fsync failed")

    monkeypatch.setattr(store_module, "_place", place_then_fail)
    with pytest.raises(OSError, match="fsync"):
        await store.save("1001", wav(0.1))
    assert await store.list() == []
    assert files(root) == []


async def test_a_cancelled_save_leaves_nothing(
        store: MessageStore, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store_module._place
    started = asyncio.Event()
    renamed = threading.Event()
    loop = asyncio.get_running_loop()

    def slow_place(*args: Any) -> None:
        loop.call_soon_threadsafe(started.set)
        time.sleep(0.2)  # the task is cancelled meanwhile; the rename still happens
        real(*args)
        renamed.set()

    monkeypatch.setattr(store_module, "_place", slow_place)
    task = asyncio.create_task(store.save("1001", wav(0.1)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(renamed.wait, 5)  # the cleanup must not have raced it
    assert await store.list() == []
    assert files(root) == []


async def test_path_refuses_a_foreign_file_name(store: MessageStore) -> None:
    saved = await store.save("1001", wav(0.1))
    for bad in ("../../etc/passwd", "/etc/passwd", "1001/../../x.wav", "1001/notes.txt"):
        with pytest.raises(ValueError, match="not a voicemail file"):
            store.path(store_module.Message(**{**_fields(saved), "file": bad}))


def _fields(message: store_module.Message) -> dict[str, Any]:
    return {name: getattr(message, name) for name in message.__slots__}


async def test_sweep_repairs_what_a_crash_left(store: MessageStore, db: Database,
                                               root: Path) -> None:
    keep = await store.save("1001", wav(0.1), created_at=T0)
    vanished = await store.save("1001", wav(0.1), created_at=T0)
    store.path(vanished).unlink()
    orphan = root / "1001" / f"{'a' * 32}.wav"  # renamed, then a crash before the commit
    temp = root / "1002" / f".{'b' * 32}.wav.tmp"  # a crash mid-write
    young = root / "1001" / f"{'c' * 32}.wav"  # a save in progress
    foreign = root / "1001" / "greeting.wav"  # not the store's: never touched
    temp.parent.mkdir()
    for path in (orphan, temp, young, foreign):
        path.write_bytes(wav(0.1))
    for path in (orphan, temp, foreign):
        age(path, 3600)
    unmounted = f"{'d' * 32}"  # its mailbox folder is missing: kept, not taken for lost
    await db.execute(
        "INSERT INTO voicemail_messages (id, mailbox, created_at, duration_s, file, size_bytes)"
        " VALUES (?, ?, ?, ?, ?, ?)", unmounted, "3003", T0, 1.0, f"3003/{unmounted}.wav", 10,
    )

    assert await store.sweep() == (2, 1)
    assert await store.get(vanished.id) is None
    assert await store.get(keep.id) == keep
    assert await store.get(unmounted) is not None
    assert files(root) == sorted([keep.file, "1001/greeting.wav", f"1001/{'c' * 32}.wav"])
    assert await store.sweep() == (0, 0)
    assert await store.sweep(grace=dt.timedelta(0)) == (1, 0)
    assert files(root) == sorted([keep.file, "1001/greeting.wav"])


async def test_sweep_without_a_root_folder(store: MessageStore, root: Path) -> None:
    assert await store.sweep() == (0, 0)
    saved = await store.save("1001", wav(0.1))
    # an unmounted volume, a wrong state folder
    await asyncio.to_thread(root.rename, root.with_name("elsewhere"))
    assert await store.sweep() == (0, 0)
    assert await store.get(saved.id) == saved
