"""Voicemail notifications against a real local webhook receiver and a minimal SMTP server.

Backoff goes through an injected sleep that only records the delays, so retries cost no time.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import io
import json
import logging
import socket
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.services.voicemail.notify import (
    NewMessage,
    Notifier,
    NotifyConfig,
    SmtpConfig,
    build_email,
)

KST = dt.timezone(dt.timedelta(hours=9))


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 64)  # every byte value, incl. CR, LF and "."
    return buf.getvalue()


@pytest.fixture
def message(tmp_path: Path) -> NewMessage:
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


# --- webhook ---------------------------------------------------------------------------------


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


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()


@pytest.fixture
async def make_notifier() -> AsyncIterator[Callable[..., tuple[Notifier, Sleeps]]]:
    made: list[Notifier] = []

    def make(**config: Any) -> tuple[Notifier, Sleeps]:
        sleeps = Sleeps()
        notifier = Notifier(NotifyConfig(**config), sleep=sleeps)
        made.append(notifier)
        return notifier, sleeps

    yield make
    for notifier in made:
        await notifier.close()


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


# --- e-mail ----------------------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpServer:
    """Just enough SMTP for smtplib: greeting, EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT.

    `mail_replies` are answered to MAIL FROM in turn before it is accepted (451, 550...).
    """

    mail_replies: list[str] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def session(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.connections += 1

        async def reply(*lines: str) -> None:
            writer.write(b"".join(line.encode() + b"\r\n" for line in lines))
            await writer.drain()

        await reply("220 test.local ESMTP")
        sender, recipients = "", list[str]()
        while line := await reader.readline():
            command = line.decode().rstrip("\r\n")
            verb, _, arg = command.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                await reply("250-test.local", "250 AUTH PLAIN")
            elif verb in ("HELO", "RSET", "NOOP"):
                await reply("250 ok")
            elif verb == "AUTH":
                _, _, initial = arg.partition(" ")
                self.logins.append(base64.b64decode(initial).decode())
                await reply("235 ok")
            elif verb == "MAIL":
                if self.mail_replies:
                    await reply(self.mail_replies.pop(0))
                    continue
                sender, recipients = arg.split(":", 1)[1].strip("<> "), []
                await reply("250 ok")
            elif verb == "RCPT":
                recipients.append(arg.split(":", 1)[1].strip("<> "))
                await reply("250 ok")
            elif verb == "DATA":
                await reply("354 go ahead")
                lines: list[bytes] = []
                while (data_line := await reader.readline()) != b".\r\n":
                    lines.append(data_line[1:] if data_line.startswith(b".") else data_line)
                self.messages.append(Received(sender, recipients, b"".join(lines)))
                await reply("250 queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            else:
                await reply("502 not implemented")
        writer.close()
        await writer.wait_closed()


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    s = SmtpServer()
    await s.start()
    yield s
    await s.stop()


def smtp_config(port: int, **fields: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, sender="ivr@bank.example",
                      recipients=("ops@bank.example", "boss@bank.example"), timeout=5.0,
                      **fields)


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


async def test_email_arrives_with_the_wav_attached(smtp_server: SmtpServer,
                                                   message: NewMessage,
                                                   make_notifier: Any) -> None:
    notifier, sleeps = make_notifier(smtp=smtp_config(smtp_server.port))
    assert await notifier.notify(message) == {"email": True}
    (received,) = smtp_server.messages
    assert received.sender == "ivr@bank.example"
    assert received.recipients == ["ops@bank.example", "boss@bank.example"]
    assert all(b < 0x80 for b in received.data)  # 7-bit clean: any relay takes it
    mail = parse(received.data)
    assert mail["Subject"] == "New voicemail in sales from +82 10 1234 5678 (12 s)"
    assert mail["From"] == "ivr@bank.example"
    assert mail["To"] == "ops@bank.example, boss@bank.example"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(("plain",))
    assert body is not None and message.audio_url in body.get_content()
    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_filename() == "m1.wav"
    assert attachment.get_content() == message.audio_path.read_bytes()
    assert sleeps == [] and smtp_server.logins == []


async def test_email_logs_in_when_a_user_is_set(smtp_server: SmtpServer, message: NewMessage,
                                                make_notifier: Any) -> None:
    config = smtp_config(smtp_server.port, username="ivr", password="pw")
    notifier, _ = make_notifier(smtp=config)
    assert await notifier.notify(message) == {"email": True}
    assert smtp_server.logins == ["\0ivr\0pw"]
    assert "pw" not in repr(config)


async def test_email_4xx_is_retried(smtp_server: SmtpServer, message: NewMessage,
                                    make_notifier: Any) -> None:
    smtp_server.mail_replies = ["451 try again later"]
    notifier, sleeps = make_notifier(smtp=smtp_config(smtp_server.port))
    assert await notifier.notify(message) == {"email": True}
    assert len(smtp_server.messages) == 1 and smtp_server.connections == 2
    assert sleeps == [1.0]


async def test_email_5xx_is_not_retried(smtp_server: SmtpServer, message: NewMessage,
                                        make_notifier: Any,
                                        caplog: pytest.LogCaptureFixture) -> None:
    smtp_server.mail_replies = ["550 no such sender"]
    notifier, sleeps = make_notifier(smtp=smtp_config(smtp_server.port))
    with caplog.at_level(logging.ERROR):
        assert await notifier.notify(message) == {"email": False}
    assert smtp_server.messages == [] and smtp_server.connections == 1 and sleeps == []
    assert "550 no such sender" in caplog.text


async def test_smtp_down_is_retried_then_false(message: NewMessage, make_notifier: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    notifier, sleeps = make_notifier(smtp=smtp_config(closed_port()))
    with caplog.at_level(logging.ERROR):
        assert await notifier.notify(message) == {"email": False}
    assert sleeps == [1.0, 2.0]
    assert "email notification failed after 3 tries" in caplog.text


async def test_missing_audio_still_sends_the_email(smtp_server: SmtpServer,
                                                   message: NewMessage,
                                                   make_notifier: Any) -> None:
    message.audio_path.unlink()
    notifier, _ = make_notifier(smtp=smtp_config(smtp_server.port))
    assert await notifier.notify(message) == {"email": True}
    mail = parse(smtp_server.messages[0].data)
    assert list(mail.iter_attachments()) == []
    body = mail.get_body(("plain",))
    assert body is not None and message.audio_url in body.get_content()


async def test_both_channels_at_once(receiver: Receiver, smtp_server: SmtpServer,
                                     message: NewMessage, make_notifier: Any) -> None:
    receiver.statuses = [500] * 5
    notifier, _ = make_notifier(webhook_url=receiver.url, smtp=smtp_config(smtp_server.port))
    assert await notifier.notify(message) == {"webhook": False, "email": True}
    assert len(receiver.requests) == 3 and len(smtp_server.messages) == 1


def test_build_email_with_a_korean_caller(message: NewMessage) -> None:
    korean = replace(message, caller="김민수 (010-1234-5678)", language="ko", duration_s=7.6)
    mail = build_email(korean, smtp_config(25))
    raw = mail.as_bytes()
    assert all(b < 0x80 for b in raw)  # the subject travels as RFC 2047 encoded words
    parsed = parse(raw)
    assert parsed["Subject"] == "New voicemail in sales from 김민수 (010-1234-5678) (8 s)"
    body = parsed.get_body(("plain",))
    assert body is not None and "김민수 (010-1234-5678)" in body.get_content()


def test_build_email_flattens_a_hostile_caller_id(message: NewMessage) -> None:
    hostile = replace(message, caller="Eve\r\nBcc: victim@example.com", mailbox="")
    mail = build_email(hostile, smtp_config(25))
    assert mail["Bcc"] is None
    assert mail["Subject"] == "New voicemail in  from Eve Bcc: victim@example.com (12 s)"
    anonymous = build_email(replace(message, caller=""), smtp_config(25))
    assert "from unknown" in anonymous["Subject"]


# --- configuration ---------------------------------------------------------------------------


def test_from_env_empty_turns_everything_off() -> None:
    config = NotifyConfig.from_env({})
    assert (config.webhook_url, config.webhook_secret, config.smtp) == ("", "", None)


def test_from_env_needs_host_and_recipients_for_email() -> None:
    assert NotifyConfig.from_env({"IVR_SMTP_HOST": "mail"}).smtp is None
    assert NotifyConfig.from_env({"IVR_VOICEMAIL_EMAIL": "a@x"}).smtp is None
    assert NotifyConfig.from_env({"IVR_SMTP_HOST": "mail",
                                  "IVR_VOICEMAIL_EMAIL": " , "}).smtp is None


def test_from_env_reads_everything() -> None:
    config = NotifyConfig.from_env({
        "IVR_VOICEMAIL_WEBHOOK": "https://crm.example/hook",
        "IVR_VOICEMAIL_WEBHOOK_SECRET": "s3cret",
        "IVR_SMTP_HOST": "smtp.example", "IVR_SMTP_PORT": "587",
        "IVR_SMTP_FROM": "ivr@bank.example",
        "IVR_VOICEMAIL_EMAIL": "ops@bank.example, boss@bank.example,",
        "IVR_SMTP_STARTTLS": "1", "IVR_SMTP_USER": "ivr", "IVR_SMTP_PASSWORD": "pw",
    })
    assert config.webhook_url == "https://crm.example/hook"
    assert config.webhook_secret == "s3cret"
    assert config.smtp == SmtpConfig(
        host="smtp.example", port=587, sender="ivr@bank.example",
        recipients=("ops@bank.example", "boss@bank.example"), starttls=True,
        username="ivr", password="pw")
    assert "s3cret" not in repr(config) and "pw" not in repr(config)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("true", True), ("0", False),
                                                ("", False), ("off", False)])
def test_from_env_starttls_flag(text: str, expected: bool) -> None:
    config = NotifyConfig.from_env({"IVR_SMTP_HOST": "mail", "IVR_VOICEMAIL_EMAIL": "a@x",
                                    "IVR_SMTP_STARTTLS": text})
    assert config.smtp is not None and config.smtp.starttls is expected
    assert (config.smtp.port, config.smtp.sender) == (25, "ivr@localhost")


@pytest.mark.parametrize(("key", "value"), [("IVR_SMTP_PORT", "smtp"),
                                            ("IVR_SMTP_STARTTLS", "maybe")])
def test_from_env_rejects_typos(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        NotifyConfig.from_env({"IVR_SMTP_HOST": "mail", "IVR_VOICEMAIL_EMAIL": "a@x",
                               key: value})
