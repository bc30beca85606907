"""Voicemail notifications by e-mail (ivr/services/voicemail/notify.py), against a minimal
SMTP server written here: the mail with the WAV attached, 7-bit clean, a login when a user is
set, 4xx retried and 5xx not, the server down, a missing recording; both channels at once (with
the webhook receiver of notify_fakes.py); and build_email with a Korean caller and a hostile
caller id.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from ivr.services.voicemail.notify import NewMessage, SmtpConfig, build_email

from .notify_fakes import (
    MakeNotifier,
    Receiver,
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
