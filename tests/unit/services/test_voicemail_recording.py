"""Leaving a message (ivr/services/voicemail/session.py), the caller's side: the greeting,
the recording with the request's limits, the review (1 listens, 2 records again, 3 sends,
silence sends, no review sends at once, the # that ended the recording is no choice), and the
keeper storing what was sent, fetched once from Asterisk and deleted there. On a fake ARI and
a real store (voicemail_fakes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.services.voicemail.session import SENT, VoicemailRequest

from .voicemail_fakes import CALL, Env, voicemail_env, wav


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with voicemail_env(tmp_path) as it:
        yield it


# -- sending ---------------------------------------------------------------------------------


async def test_record_then_3_sends_and_the_keeper_stores_the_message(env: Env) -> None:
    env.caller.answers = ["3"]
    request = VoicemailRequest(mailbox="sales", max_length=60, max_silence=4, queue="support")

    assert await env.leave(request) == SENT
    [kept] = await env.service.kept()

    [message] = await env.store.list()
    assert kept == message
    assert (message.mailbox, message.caller, message.language, message.call_id,
            message.queue) == ("sales", "01012345678", "ko", CALL, "support")
    assert message.duration_s == 2.0
    assert not message.heard
    assert env.store.path(message).read_bytes() == wav(2.0)
    assert env.files() == [f"sales/{message.id}.wav"]
    # what Asterisk was asked: greeting first, a beep, # ends it, the request's limits
    assert env.caller.prompts == ["vm-greeting", "vm-review"]
    [record] = env.rest.sent("POST", f"/channels/{CALL}/record")
    assert record.params == {"name": f"vm-{CALL}-1", "format": "wav", "maxDurationSeconds": 60,
                             "maxSilenceSeconds": 4, "ifExists": "overwrite", "beep": True,
                             "terminateOn": "#"}
    # the copy in Asterisk is fetched once, then deleted
    assert env.rest.fetched() == [f"vm-{CALL}-1"]
    assert env.rest.deleted() == [f"vm-{CALL}-1"]
    assert env.rest.stored == {}
    assert env.service.saved == [message]
    assert env.service.keepers == set()
    assert env.caller.traced("voicemail_recording") == [{"mailbox": "sales", "take": 1}]
    assert env.caller.traced("voicemail_review") == [{"choice": "send"}]


async def test_2_records_again_and_only_the_second_take_is_kept(env: Env) -> None:
    env.rest.audio = {f"vm-{CALL}-1": wav(5.0), f"vm-{CALL}-2": wav(3.0)}
    env.caller.answers = ["2", "3"]

    assert await env.leave() == SENT
    first, second = await env.service.kept()

    assert env.rest.recorded == [f"vm-{CALL}-1", f"vm-{CALL}-2"]
    assert first is None
    [message] = await env.store.list()
    assert message == second
    assert message.duration_s == 3.0
    assert env.store.path(message).read_bytes() == wav(3.0)
    # the discarded take was never fetched, and both are gone from Asterisk
    assert env.rest.fetched() == [f"vm-{CALL}-2"]
    assert sorted(env.rest.deleted()) == [f"vm-{CALL}-1", f"vm-{CALL}-2"]
    assert env.rest.stored == {}
    assert env.service.saved == [message]
    assert env.caller.prompts == ["vm-greeting", "vm-review", "vm-greeting", "vm-review"]


async def test_1_plays_the_recording_then_asks_again(env: Env) -> None:
    env.caller.answers = ["1", "3"]

    assert await env.leave() == SENT
    await env.service.kept()

    assert env.rest.plays() == [f"recording:vm-{CALL}-1"]
    assert env.caller.prompts == ["vm-greeting", "vm-review", "vm-review"]
    assert len(await env.store.list()) == 1
    assert [t["choice"] for t in env.caller.traced("voicemail_review")] == ["listen", "send"]


async def test_three_silent_turns_send(env: Env) -> None:
    assert await env.leave() == SENT
    await env.service.kept()

    assert env.caller.prompts == ["vm-greeting", "vm-review", "vm-review", "vm-review"]
    assert len(await env.store.list()) == 1


async def test_without_review_the_take_is_sent_at_once(env: Env) -> None:
    env.caller.answers = ["2"]  # would record again, were the caller asked

    assert await env.leave(VoicemailRequest(mailbox="sales", review=False)) == SENT
    await env.service.kept()

    assert env.caller.prompts == ["vm-greeting"]
    assert env.rest.recorded == [f"vm-{CALL}-1"]
    assert env.caller.traced("voicemail_review") == []
    assert len(await env.store.list()) == 1


async def test_the_hash_that_ended_the_recording_is_no_review_choice(env: Env) -> None:
    env.rest.auto_finish = False
    env.caller.answers = ["3"]
    task = env.start()
    name = await env.recording()
    env.caller.digits.put_nowait("#")  # the caller ends the recording with #
    env.client.finish(name)

    async with asyncio.timeout(2.0):
        assert await task == SENT
    await env.service.kept()

    assert env.caller.discarded == 1
    assert env.caller.prompts == ["vm-greeting", "vm-review"]
    assert env.caller.traced("voicemail_review") == [{"choice": "send"}]
    assert len(await env.store.list()) == 1
