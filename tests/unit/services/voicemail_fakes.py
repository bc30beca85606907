"""Fakes for the tests of leaving a message (ivr/services/voicemail/session.py):
test_voicemail_recording.py and test_voicemail_keeper.py.

The ARI side is the real AriClient over the ACD tests' FakeRest, taught here what voicemail
asks of Asterisk: start a recording, play one back, hand over a stored recording's bytes and
delete it. Recording ends are emitted by the test (or at once, when `auto_finish` is on), so
the caller's flow and the keeper that stores the take run exactly as they do in production.
The store is a real MessageStore on SQLite in tmp_path (`voicemail_env`, which each test
module's `env` fixture enters).
"""

from __future__ import annotations

import asyncio
import io
import re
import wave
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.ari.errors import error_for_status
from ivr.ari.events import PlaybackFinished, RecordingFailed, RecordingFinished
from ivr.ari.handles import Ari, LiveRecordingHandle
from ivr.ari.models import LiveRecording, Playback
from ivr.services.db import Database, connect
from ivr.services.place import InFlow, Place, Whereabouts
from ivr.services.voicemail.session import (
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
        self.caller_name = ""
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


@asynccontextmanager
async def voicemail_env(tmp_path: Path) -> AsyncIterator[Env]:
    """A test's Env on SQLite in tmp_path; on exit, keepers still running are cancelled."""
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
