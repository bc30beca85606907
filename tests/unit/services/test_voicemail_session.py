"""Leaving a message (ivr/services/voicemail/session.py) on a fake ARI and a real store.

The ARI side is the real AriClient over the ACD tests' FakeRest, taught here what voicemail
asks of Asterisk: start a recording, play one back, hand over a stored recording's bytes and
delete it. Recording ends are emitted by the test (or at once, when `auto_finish` is on), so
the caller's flow and the keeper that stores the take run exactly as they do in production.
The store is a real MessageStore on SQLite in tmp_path.
"""

from __future__ import annotations

import asyncio
import io
import re
import wave
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivr.ari.errors import error_for_status
from ivr.ari.events import PlaybackFinished, RecordingFailed, RecordingFinished
from ivr.ari.handles import Ari, LiveRecordingHandle
from ivr.ari.models import LiveRecording, Playback
from ivr.services.db import Database, DatabaseError, connect
from ivr.services.place import InFlow, Place, Whereabouts
from ivr.services.voicemail.session import (
    NOTHING,
    SENT,
    Take,
    Voicemail,
    VoicemailCaller,
    VoicemailRequest,
    leave_message,
)
from ivr.services.voicemail.store import Message, MessageStore

from ..acd.fakes import FakeAriClient, FakeRest, Request, eventually

CALL = "c1"
_RECORD = re.compile(r"/channels/([^/]+)/record")
_PLAY = re.compile(r"/channels/([^/]+)/play/([^/]+)")
_STORED_FILE = re.compile(r"/recordings/stored/([^/]+)/file")
_STORED = re.compile(r"/recordings/stored/([^/]+)")


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A small 8 kHz 16-bit mono WAV, as Asterisk's `wav` format stores it."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate))
    return buf.getvalue()


class VoicemailRest(FakeRest):
    """FakeRest plus recordings and playbacks.

    Every recording started gets the bytes in `audio` under its name (`default_audio` if none)
    as its stored file. With `auto_finish` on, RecordingFinished follows each record request
    at once; off, the test ends recordings itself (`finish`). PlaybackFinished always follows
    a play request at once."""

    def __init__(self, client: VoicemailClient) -> None:
        super().__init__()
        self.client = client
        self.auto_finish = True
        self.audio: dict[str, bytes] = {}
        self.default_audio = wav(2.0)
        self.stored: dict[str, bytes] = {}
        """Recordings Asterisk holds now (name -> bytes)."""
        self.recorded: list[str] = []
        """Names of the recordings started, in order."""

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Mapping[str, Any] | None = None) -> Any:
        answer = await super().request(method, path, params=params, body=body)
        loop = asyncio.get_running_loop()
        if method == "POST" and (m := _RECORD.fullmatch(path)):
            assert params is not None
            name = str(params["name"])
            self.recorded.append(name)
            self.stored[name] = self.audio.get(name, self.default_audio)
            if self.auto_finish:
                loop.call_soon(self.client.finish, name)
            return {"name": name, "format": "wav", "state": "recording",
                    "target_uri": f"channel:{m.group(1)}"}
        if method == "POST" and (m := _PLAY.fullmatch(path)):
            assert params is not None
            playback = Playback(id=m.group(2), media_uri=str(params["media"]),
                                target_uri=f"channel:{m.group(1)}", state="done")
            loop.call_soon(self.client.emit, PlaybackFinished(
                type=PlaybackFinished.TYPE, application="ivr", playback=playback))
            return {"id": playback.id, "media_uri": playback.media_uri,
                    "target_uri": playback.target_uri, "state": "queued"}
        if method == "DELETE" and (m := _STORED.fullmatch(path)):
            if self.stored.pop(m.group(1), None) is None:
                raise error_for_status(404, method, path, "Recording not found")
            return None
        return answer

    async def request_bytes(self, method: str, path: str, *,
                            params: Mapping[str, Any] | None = None,
                            body: Mapping[str, Any] | None = None) -> bytes:
        self.requests.append(Request(method, path, dict(params or {})))
        await asyncio.sleep(0)
        m = _STORED_FILE.fullmatch(path)
        if method != "GET" or m is None or m.group(1) not in self.stored:
            raise error_for_status(404, method, path, "Recording not found")
        return self.stored[m.group(1)]

    def deleted(self) -> list[str]:
        """Names of the stored recordings deleted, in order."""
        return [m.group(1) for r in self.requests
                if r.method == "DELETE" and (m := _STORED.fullmatch(r.path))]

    def fetched(self) -> list[str]:
        return [m.group(1) for r in self.requests
                if r.method == "GET" and (m := _STORED_FILE.fullmatch(r.path))]

    def plays(self) -> list[str]:
        return [str(r.params["media"]) for r in self.requests
                if r.method == "POST" and _PLAY.fullmatch(r.path)]


class VoicemailClient(FakeAriClient):
    def __init__(self) -> None:
        super().__init__()
        self.rest: VoicemailRest = VoicemailRest(self)
        self._fake = Ari(rest=self.rest, router=self.router, app="ivr")

    def finish(self, name: str, *, failed: bool = False) -> None:
        """As Asterisk does when a recording ends (# pressed, silence, hangup)."""
        kind = RecordingFailed if failed else RecordingFinished
        self.emit(kind(type=kind.TYPE, application="ivr", recording=LiveRecording(
            name=name, format="wav", state="failed" if failed else "done",
            target_uri=f"channel:{CALL}", duration=2)))


class Caller:
    """A caller leaving a message (VoicemailCaller).

    `play` keeps the prompt ids and returns at once; each "vm-review" prompt presses the next
    key of `answers` (None: the caller stays silent). `read_digit` waits at most `poll`
    seconds, whatever it is asked, so silent turns are quick."""

    def __init__(self, client: VoicemailClient, answers: Sequence[str | None] = ()) -> None:
        self.id = CALL
        self.caller = "01012345678"
        self.language = "ko"
        self.handle = client.channels.handle(CALL)
        self.whereabouts = Whereabouts(CALL)
        self.whereabouts.move(InFlow("fake"))  # a flow's voicemail node brought it here
        self.answers = list(answers)
        self.poll = 0.01
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.prompts: list[str] = []
        self.discarded = 0
        self.traces: list[tuple[str, dict[str, Any]]] = []

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        self.prompts.extend(prompt_ids)
        if "vm-review" in prompt_ids and self.answers:
            key = self.answers.pop(0)
            if key is not None:
                self.digits.put_nowait(key)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        try:
            return await asyncio.wait_for(self.digits.get(), min(timeout, self.poll))
        except TimeoutError:
            return None

    def move(self, place: Place) -> None:
        self.whereabouts.move(place)

    def discard_typeahead(self) -> None:
        self.discarded += 1
        while not self.digits.empty():
            self.digits.get_nowait()

    def trace(self, event: str, **fields: Any) -> None:
        self.traces.append((event, fields))

    def traced(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.traces if e == event]


class Service(Voicemail):
    """Voicemail that also remembers every keeper it started (they leave `keepers` when done)."""

    def __init__(self, client: VoicemailClient, store: MessageStore) -> None:
        self.saved: list[Message] = []
        super().__init__(client, store, on_saved=self._saved)
        self.retry_delay = 0.0
        self.started: list[asyncio.Task[Message | None]] = []

    async def _saved(self, message: Message) -> None:
        self.saved.append(message)

    def keep(self, recording: LiveRecordingHandle, caller: VoicemailCaller,
             request: VoicemailRequest) -> Take:
        before = set(self.keepers)
        take = super().keep(recording, caller, request)
        self.started.extend(self.keepers - before)
        return take

    async def kept(self) -> list[Message | None]:
        """Wait for every keeper; their results (an exception escaping one fails the test)."""
        async with asyncio.timeout(2.0):
            return list(await asyncio.gather(*self.started))


@dataclass
class Env:
    client: VoicemailClient
    service: Service
    store: MessageStore
    db: Database
    root: Path
    caller: Caller = field(init=False)

    def __post_init__(self) -> None:
        self.caller = Caller(self.client)

    @property
    def rest(self) -> VoicemailRest:
        return self.client.rest

    async def leave(self, request: VoicemailRequest | None = None) -> str:
        async with asyncio.timeout(2.0):
            return await leave_message(self.service, self.caller,
                                       request or VoicemailRequest(mailbox="sales"))

    def start(self, request: VoicemailRequest | None = None) -> asyncio.Task[str]:
        return asyncio.create_task(leave_message(self.service, self.caller,
                                                 request or VoicemailRequest(mailbox="sales")))

    async def recording(self, n: int = 1) -> str:
        """Wait until the caller's n-th take is being recorded and kept; its name."""
        name = f"vm-{CALL}-{n}"
        await eventually(lambda: name in self.rest.recorded and len(self.service.started) >= n)
        return name

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file()) if self.root.exists() else []


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    client = VoicemailClient()
    root = tmp_path / "voicemail"
    store = MessageStore(db, root)
    service = Service(client, store)
    try:
        yield Env(client, service, store, db, root)
    finally:
        for task in service.started:
            task.cancel()
        await asyncio.gather(*service.started, return_exceptions=True)
        await db.close()


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
