"""The keeper that stores a take (ivr/services/voicemail/session.py), whatever the caller
does: a hang-up while recording or reviewing still stores the message; a take too short, a
failed record request or recording, audio that is no WAV store nothing; a failing on_saved loses
nothing; stop() waits for a keeper in progress; a database that is down is retried, then
Asterisk's copy is kept. On a fake ARI and a real store (voicemail_fakes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.services.db import DatabaseError
from ivr.services.voicemail.session import NOTHING, SENT, VoicemailRequest
from ivr.services.voicemail.store import Message

from ..acd.fakes import eventually
from .voicemail_fakes import CALL, Env, voicemail_env, wav


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with voicemail_env(tmp_path) as it:
        yield it


# -- the caller hangs up ---------------------------------------------------------------------


async def test_hanging_up_while_recording_still_stores_the_message(env: Env) -> None:
    env.rest.auto_finish = False
    task = env.start()
    name = await env.recording()

    task.cancel()  # the caller hung up: the call's flow is cancelled
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert env.rest.fetched() == []  # nothing stored before the recording ends
    env.client.finish(name)  # hanging up ends the recording

    [message] = await env.service.kept()
    assert message is not None
    assert await env.store.list() == [message]
    assert (message.mailbox, message.call_id, message.duration_s) == ("sales", CALL, 2.0)
    assert env.rest.deleted() == [name]
    assert env.service.saved == [message]
    assert "vm-review" not in env.caller.prompts


async def test_hanging_up_during_the_review_still_stores_the_message(env: Env) -> None:
    env.caller.poll = 5.0  # the review waits for a key
    task = env.start()
    await eventually(lambda: "vm-review" in env.caller.prompts)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [message] = await env.service.kept()
    assert message is not None
    assert await env.store.list() == [message]
    assert env.rest.deleted() == [f"vm-{CALL}-1"]


async def test_hanging_up_after_record_again_keeps_nothing_of_the_first_take(env: Env) -> None:
    env.rest.auto_finish = False
    env.caller.answers = ["2"]
    task = env.start()
    env.client.finish(await env.recording(1))
    await env.recording(2)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    env.client.finish(f"vm-{CALL}-2")

    first, second = await env.service.kept()
    assert first is None and second is not None
    assert await env.store.list() == [second]


# -- nothing to store ------------------------------------------------------------------------


async def test_a_take_shorter_than_min_length_is_not_stored(env: Env) -> None:
    env.rest.default_audio = wav(0.5)
    env.caller.answers = ["3"]

    assert await env.leave(VoicemailRequest(mailbox="sales", min_length=1.0)) == SENT
    assert await env.service.kept() == [None]

    assert await env.store.list() == []
    assert env.files() == []
    assert env.rest.deleted() == [f"vm-{CALL}-1"]
    assert env.rest.stored == {}
    assert env.service.saved == []


async def test_a_failed_record_request_leaves_nothing(env: Env) -> None:
    env.rest.fail("POST", f"/channels/{CALL}/record", 500)

    assert await env.leave() == NOTHING

    assert env.service.started == [] and env.service.keepers == set()
    assert env.rest.recorded == []
    [failed] = env.caller.traced("voicemail_failed")
    assert failed["mailbox"] == "sales" and failed["error"]
    assert env.caller.prompts == ["vm-greeting"]
    assert await env.store.list() == []


async def test_a_failed_recording_sends_nothing(env: Env) -> None:
    env.rest.auto_finish = False
    env.caller.answers = ["3"]
    task = env.start()
    name = await env.recording()
    del env.rest.stored[name]  # Asterisk kept no file
    env.client.finish(name, failed=True)

    async with asyncio.timeout(2.0):
        assert await task == NOTHING
    assert await env.service.kept() == [None]

    assert "vm-review" not in env.caller.prompts
    assert await env.store.list() == []


async def test_audio_that_is_no_wav_is_not_stored_and_the_keeper_ends_quietly(
        env: Env) -> None:
    env.rest.default_audio = b"RIFF....not a wave file at all"
    env.caller.answers = ["3"]

    assert await env.leave() == SENT
    [task] = env.service.started
    assert await env.service.kept() == [None]

    assert task.exception() is None
    assert await env.store.list() == []
    assert env.files() == []
    assert env.rest.deleted() == [f"vm-{CALL}-1"]
    assert env.service.saved == []


async def test_a_failing_on_saved_does_not_lose_the_message(env: Env) -> None:
    async def broken(message: Message) -> None:
        raise RuntimeError("webhook down")

    env.service.on_saved = broken
    env.caller.answers = ["3"]

    assert await env.leave() == SENT
    [message] = await env.service.kept()

    assert message is not None and await env.store.list() == [message]


# -- stopping --------------------------------------------------------------------------------


async def test_stop_waits_for_a_keeper_in_progress(env: Env) -> None:
    env.rest.auto_finish = False
    task = env.start(VoicemailRequest(mailbox="sales", review=False))
    name = await env.recording()

    stopping = asyncio.create_task(env.service.stop(timeout=2.0))
    await asyncio.sleep(0.02)
    assert not stopping.done()  # the take is still being recorded
    env.client.finish(name)  # the stopping app hangs the caller up: the recording ends

    async with asyncio.timeout(2.0):
        await stopping
        assert await task == SENT
    assert env.service.keepers == set()
    [message] = await env.store.list()
    assert env.service.saved == [message]
    assert env.rest.deleted() == [name]


async def test_stop_without_keepers_returns_at_once(env: Env) -> None:
    async with asyncio.timeout(0.1):
        await env.service.stop()


async def test_a_failed_save_keeps_the_asterisk_copy(env: Env) -> None:
    """A database that is down must not cost the message: retried, then left in Asterisk."""
    attempts = 0

    async def down(*args: Any, **kwargs: Any) -> Message:
        nonlocal attempts
        attempts += 1
        raise DatabaseError("database is down")

    env.store.save = down  # type: ignore[method-assign]
    env.caller.answers = ["3"]
    assert await env.leave() == SENT
    assert await env.service.kept() == [None]
    assert attempts == 3
    assert env.rest.deleted() == [], "Asterisk's copy is the only one left: kept"


async def test_a_save_that_fails_once_is_retried(env: Env) -> None:
    real_save = env.store.save
    failures = [DatabaseError("busy")]

    async def flaky(*args: Any, **kwargs: Any) -> Message:
        if failures:
            raise failures.pop()
        return await real_save(*args, **kwargs)

    env.store.save = flaky  # type: ignore[method-assign]
    env.caller.answers = ["3"]
    assert await env.leave() == SENT
    (message,) = await env.service.kept()
    assert message is not None and env.rest.deleted() == ["vm-c1-1"]
