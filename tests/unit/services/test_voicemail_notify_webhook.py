"""Voicemail notifications by webhook (ivr/services/voicemail/notify.py), against a real
local receiver (notify_fakes.py): the payload, its HMAC signature, retries with backoff on 5xx,
429, timeouts and a closed port, no retry on other 4xx; and the notifier itself: a bug in a
channel never reaches the caller, nothing configured sends nothing, a session passed in stays
open, submit() runs in the background and close() drains or cancels.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from ivr.services.voicemail.notify import NewMessage, Notifier, NotifyConfig

from .notify_fakes import (
    MakeNotifier,
    Receiver,
    Sleeps,
    closed_port,
    new_message,
    notifier_maker,
    running_receiver,
)


@pytest.fixture
def message(tmp_path: Path) -> NewMessage:
    return new_message(tmp_path)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def make_notifier() -> AsyncIterator[MakeNotifier]:
    async with notifier_maker() as make:
        yield make


def test_payload_has_the_fields_and_no_local_path(message: NewMessage) -> None:
    payload = message.payload()
    assert payload == {"event": "voicemail.new", "message": {
        "id": "m1", "mailbox": "sales", "caller": "+82 10 1234 5678", "language": "en",
        "created_at": "2025-03-01T09:30:05+09:00", "duration_s": 12.4,
        "audio_url": "http://ivr.example/api/voicemail/m1/audio"}}
    assert str(message.audio_path) not in json.dumps(payload)


async def test_webhook_posts_the_signed_payload(receiver: Receiver, message: NewMessage,
                                                make_notifier: Any) -> None:
    notifier, sleeps = make_notifier(webhook_url=receiver.url, webhook_secret="s3cret")
    assert await notifier.notify(message) == {"webhook": True}
    ((headers, body),) = receiver.requests
    assert json.loads(body) == message.payload()
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Ivr-Signature"], f"sha256={expected}")
    assert sleeps == []


async def test_webhook_without_a_secret_is_unsigned(receiver: Receiver, message: NewMessage,
                                                    make_notifier: Any) -> None:
    notifier, _ = make_notifier(webhook_url=receiver.url)
    assert await notifier.notify(message) == {"webhook": True}
    ((headers, _body),) = receiver.requests
    assert "X-Ivr-Signature" not in headers


async def test_webhook_retries_after_two_503s(receiver: Receiver, message: NewMessage,
                                              make_notifier: Any) -> None:
    receiver.statuses = [503, 503]
    notifier, sleeps = make_notifier(webhook_url=receiver.url, backoff=0.5)
    assert await notifier.notify(message) == {"webhook": True}
    assert len(receiver.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert len({body for _, body in receiver.requests}) == 1  # the same body every try


async def test_webhook_400_is_not_retried(receiver: Receiver, message: NewMessage,
                                          make_notifier: Any,
                                          caplog: pytest.LogCaptureFixture) -> None:
    receiver.statuses = [400]
    notifier, sleeps = make_notifier(webhook_url=receiver.url)
    with caplog.at_level(logging.ERROR):
        assert await notifier.notify(message) == {"webhook": False}
    assert len(receiver.requests) == 1 and sleeps == []
    assert "HTTP 400" in caplog.text


async def test_webhook_429_is_retried(receiver: Receiver, message: NewMessage,
                                      make_notifier: Any) -> None:
    receiver.statuses = [429]
    notifier, sleeps = make_notifier(webhook_url=receiver.url)
    assert await notifier.notify(message) == {"webhook": True}
    assert len(receiver.requests) == 2 and sleeps == [1.0]


async def test_webhook_to_a_closed_port_gives_up_after_attempts(
        message: NewMessage, make_notifier: Any, caplog: pytest.LogCaptureFixture) -> None:
    notifier, sleeps = make_notifier(
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook", attempts=4, backoff=2.0)
    with caplog.at_level(logging.ERROR):
        assert await notifier.notify(message) == {"webhook": False}
    assert sleeps == [2.0, 4.0, 8.0]
    assert "failed after 4 tries" in caplog.text


async def test_webhook_timeout_is_retried(receiver: Receiver, message: NewMessage,
                                          make_notifier: Any) -> None:
    receiver.delay = 1.0
    notifier, sleeps = make_notifier(webhook_url=receiver.url, webhook_timeout=0.1,
                                     attempts=2)
    assert await notifier.notify(message) == {"webhook": False}
    assert len(receiver.requests) == 2 and sleeps == [1.0]


async def test_a_bug_in_a_channel_never_reaches_the_caller(message: NewMessage) -> None:
    class Broken:
        closed = False

        def post(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    notifier = Notifier(NotifyConfig(webhook_url="http://127.0.0.1:9/hook"),
                        session=cast(aiohttp.ClientSession, Broken()), sleep=Sleeps())
    assert await notifier.notify(message) == {"webhook": False}
    await notifier.close()


async def test_nothing_configured_notifies_nothing(message: NewMessage,
                                                   make_notifier: Any) -> None:
    notifier, _ = make_notifier()
    assert await notifier.notify(message) == {}


async def test_a_session_passed_in_is_left_open(receiver: Receiver,
                                                message: NewMessage) -> None:
    async with aiohttp.ClientSession() as session:
        notifier = Notifier(NotifyConfig(webhook_url=receiver.url), session=session)
        assert await notifier.notify(message) == {"webhook": True}
        await notifier.close()
        assert not session.closed


async def test_submit_runs_in_the_background_and_close_drains(
        receiver: Receiver, message: NewMessage, make_notifier: Any) -> None:
    notifier, _ = make_notifier(webhook_url=receiver.url)
    task = notifier.submit(message)
    await notifier.close()
    assert task.done() and task.result() == {"webhook": True}
    assert len(receiver.requests) == 1


async def test_close_cancels_what_does_not_finish_in_time(
        message: NewMessage, caplog: pytest.LogCaptureFixture) -> None:
    async def forever(seconds: float) -> None:
        await asyncio.Event().wait()

    notifier = Notifier(NotifyConfig(webhook_url=f"http://127.0.0.1:{closed_port()}/hook"),
                        sleep=forever)
    task = notifier.submit(message)
    with caplog.at_level(logging.WARNING):
        await notifier.close(drain=0.2)
    assert task.cancelled()
    assert "cancelled at shutdown" in caplog.text
