"""What the voicemail notification tests share (test_voicemail_notify_webhook.py,
test_voicemail_notify_email.py): a new message with its WAV, a real local webhook receiver that
answers scripted statuses, and notifiers whose backoff goes through an injected sleep that only
records the delays, so retries cost no time. Each test module's fixtures (`message`, `receiver`,
`make_notifier`) are made from these.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import socket
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.services.voicemail.notify import NewMessage, Notifier, NotifyConfig

KST = dt.timezone(dt.timedelta(hours=9))


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 64)  # every byte value, incl. CR, LF and "."
    return buf.getvalue()


def new_message(tmp_path: Path) -> NewMessage:
    """A message left in sales, its audio a WAV in tmp_path."""
    path = tmp_path / "m1.wav"
    path.write_bytes(wav_bytes())
    return NewMessage(
        id="m1", mailbox="sales", caller="+82 10 1234 5678", language="en",
        created_at=dt.datetime(2025, 3, 1, 9, 30, 5, tzinfo=KST), duration_s=12.4,
        audio_url="http://ivr.example/api/voicemail/m1/audio", audio_path=path)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Receiver:
    """Answers with the scripted statuses in turn (then 200) and keeps every request."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.delay = 0.0
        self.requests: list[tuple[dict[str, str], bytes]] = []
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A Receiver listening on 127.0.0.1 until the block ends."""
    r = Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()


MakeNotifier = Callable[..., tuple[Notifier, Sleeps]]


@asynccontextmanager
async def notifier_maker() -> AsyncIterator[MakeNotifier]:
    """make(**config): a Notifier with that config and the Sleeps it records;
    every Notifier made is closed when the block ends."""
    made: list[Notifier] = []

    def make(**config: Any) -> tuple[Notifier, Sleeps]:
        sleeps = Sleeps()
        notifier = Notifier(NotifyConfig(**config), sleep=sleeps)
        made.append(notifier)
        return notifier, sleeps

    yield make
    for notifier in made:
        await notifier.close()
