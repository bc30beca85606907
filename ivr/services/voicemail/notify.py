"""Announce a new voicemail: a signed webhook and, optionally, an e-mail with the audio attached.

A notification must never cost the caller their message, so it runs only after the message is
saved, and nothing here raises into the call: each channel retries transient failures (5xx,
timeout, refused connection, SMTP 4xx) with exponential backoff, then logs and reports False.
Permanent failures (HTTP 4xx, SMTP 5xx) are logged at once: retrying would not change them.
`Notifier.submit` runs a notification in the background so the call never waits for retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import email.utils
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiohttp

__all__ = ["NewMessage", "Notifier", "NotifyConfig", "SmtpConfig", "build_email", "sign"]

log = logging.getLogger(__name__)

EVENT = "voicemail.new"
SIGNATURE_HEADER = "X-Ivr-Signature"
RETRYABLE_4XX = frozenset({408, 429})
"""Request Timeout and Too Many Requests say "later", unlike the rest of 4xx."""

# 7-bit clean output: any relay accepts it, 8BITMIME or not (headers become RFC 2047 words).
_EMAIL_POLICY = email.policy.SMTP.clone(cte_type="7bit")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What is announced; the caller builds it from the stored message."""

    id: str
    mailbox: str
    caller: str
    language: str
    created_at: dt.datetime
    duration_s: float
    audio_url: str
    """REST URL where the recipient downloads the audio."""
    audio_path: Path
    """Local WAV file, read only for the e-mail attachment; never sent to the webhook."""

    def payload(self) -> dict[str, object]:
        """The webhook's JSON body."""
        return {
            "event": EVENT,
            "message": {
                "id": self.id,
                "mailbox": self.mailbox,
                "caller": self.caller,
                "language": self.language,
                "created_at": self.created_at.isoformat(),
                "duration_s": round(self.duration_s, 2),
                "audio_url": self.audio_url,
            },
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    """Where the e-mail goes. Keyword-only: `host` is required, `port` has a default."""

    host: str
    port: int = 25
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str = ""
    password: str = field(repr=False, default="")
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Which channels are on (empty URL / no SMTP: off) and how hard to try."""

    webhook_url: str = ""
    webhook_secret: str = field(repr=False, default="")
    smtp: SmtpConfig | None = None
    attempts: int = 3
    """Tries per channel, the first included."""
    backoff: float = 1.0
    """Seconds before the second try; doubled before each further one."""
    webhook_timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifyConfig:
        """Read IVR_VOICEMAIL_* and IVR_SMTP_*; e-mail is on only with a host and recipients.

        A malformed port or flag raises ValueError, so a typo stops the app at start-up
        instead of silently turning e-mail off.
        """
        host = env.get("IVR_SMTP_HOST", "").strip()
        recipients = tuple(r.strip() for r in env.get("IVR_VOICEMAIL_EMAIL", "").split(",")
                           if r.strip())
        smtp = None
        if host and recipients:
            port_text = env.get("IVR_SMTP_PORT", "").strip() or "25"
            try:
                port = int(port_text)
            except ValueError:
                raise ValueError(f"IVR_SMTP_PORT is not a port number: {port_text!r}") from None
            smtp = SmtpConfig(
                host=host,
                port=port,
                sender=env.get("IVR_SMTP_FROM", "").strip() or "ivr@localhost",
                recipients=recipients,
                starttls=_flag(env, "IVR_SMTP_STARTTLS"),
                username=env.get("IVR_SMTP_USER", ""),
                password=env.get("IVR_SMTP_PASSWORD", ""),
            )
        return cls(
            webhook_url=env.get("IVR_VOICEMAIL_WEBHOOK", "").strip(),
            webhook_secret=env.get("IVR_VOICEMAIL_WEBHOOK_SECRET", ""),
            smtp=smtp,
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {text!r}")


class _Failure(Exception):
    """One try failed; `transient` says whether another try could succeed."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.transient = transient


class Notifier:
    """Sends the notifications for new messages; one per app, closed at shutdown.

    A session passed in is the caller's to close; one created here is closed by `close()`.
    `sleep` is injectable so tests see the backoff without waiting for it.
    """

    def __init__(self, config: NotifyConfig, session: aiohttp.ClientSession | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._tasks: set[asyncio.Task[dict[str, bool]]] = set()

    def submit(self, message: NewMessage) -> asyncio.Task[dict[str, bool]]:
        """Notify in the background; the task is kept (not garbage-collected) until done."""
        task = asyncio.get_running_loop().create_task(
            self.notify(message), name=f"voicemail-notify-{message.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def notify(self, message: NewMessage) -> dict[str, bool]:
        """Every configured channel, concurrently: {"webhook": ok, "email": ok}. Never raises."""
        channels: dict[str, Awaitable[bool]] = {}
        if self.config.webhook_url:
            channels["webhook"] = self._webhook(message)
        if self.config.smtp is not None:
            channels["email"] = self._email(message, self.config.smtp)
        results = await asyncio.gather(
            *(_safely(name, message.id, work) for name, work in channels.items()))
        return dict(zip(channels, results, strict=True))

    async def close(self, *, drain: float = 10.0) -> None:
        """Give background notifications `drain` seconds to finish, cancel the rest."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=drain)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("voicemail notify: %d notification(s) cancelled at shutdown",
                            len(late))
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)  # let aiohttp release the connector's transports
        self._session = None

    async def _webhook(self, message: NewMessage) -> bool:
        body = json.dumps(message.payload(), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "ivr"}
        if self.config.webhook_secret:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(body, self.config.webhook_secret)

        async def attempt() -> None:
            await self._post(body, headers)

        return await self._with_retries("webhook", message.id, attempt)

    async def _post(self, body: bytes, headers: Mapping[str, str]) -> None:
        session = self._get_session()
        try:
            async with session.post(
                self.config.webhook_url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout),
            ) as response:
                status = response.status
                await response.read()
        except aiohttp.InvalidURL as exc:
            raise _Failure(f"invalid URL {exc}", transient=False) from None
        except TimeoutError:
            raise _Failure(f"timeout after {self.config.webhook_timeout:g}s",
                           transient=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Failure(f"{type(exc).__name__}: {exc}", transient=True) from None
        if not 200 <= status < 300:
            raise _Failure(f"HTTP {status}",
                           transient=status >= 500 or status in RETRYABLE_4XX)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _email(self, message: NewMessage, config: SmtpConfig) -> bool:
        mail = await asyncio.to_thread(build_email, message, config)

        async def attempt() -> None:
            await asyncio.to_thread(_send, mail, config)

        return await self._with_retries("email", message.id, attempt)

    async def _with_retries(self, channel: str, message_id: str,
                            attempt: Callable[[], Awaitable[None]]) -> bool:
        tries = max(1, self.config.attempts)
        for n in range(tries):
            try:
                await attempt()
            except _Failure as exc:
                failure = exc
            else:
                if n:
                    log.info("voicemail %s: %s notification sent on try %d",
                             message_id, channel, n + 1)
                return True
            if not failure.transient or n == tries - 1:
                break
            delay = self.config.backoff * 2 ** n
            log.warning("voicemail %s: %s notification failed (%s), retrying in %gs",
                        message_id, channel, failure, delay)
            await self._sleep(delay)
        log.error("voicemail %s: %s notification failed after %d tr%s: %s",
                  message_id, channel, n + 1, "y" if n == 0 else "ies", failure)
        return False


async def _safely(channel: str, message_id: str, work: Awaitable[bool]) -> bool:
    """The last line of defence: a bug in a channel is logged, never raised into the call."""
    try:
        return await work
    except Exception:
        log.exception("voicemail %s: %s notification failed", message_id, channel)
        return False


def sign(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the exact body bytes; the receiver recomputes it to trust the call."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def build_email(message: NewMessage, config: SmtpConfig) -> EmailMessage:
    """The e-mail for one message, WAV attached. Blocking (reads the file): call in a thread.

    Caller ID comes from the network, so it is flattened to one printable line before it goes
    into a header. A missing audio file still sends the e-mail, with the download link.
    """
    caller = _one_line(message.caller) or "unknown"
    mailbox = _one_line(message.mailbox)
    mail = EmailMessage(policy=_EMAIL_POLICY)
    mail["Subject"] = f"New voicemail in {mailbox} from {caller} ({message.duration_s:.0f} s)"
    mail["From"] = config.sender
    mail["To"] = ", ".join(config.recipients)
    mail["Date"] = email.utils.formatdate(localtime=True)
    # An explicit domain: make_msgid() would otherwise look up the host's FQDN (DNS).
    mail["Message-ID"] = email.utils.make_msgid(
        "voicemail", domain=config.sender.rpartition("@")[2] or "localhost")
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    try:
        audio: bytes | None = message.audio_path.read_bytes()
    except OSError as exc:
        log.warning("voicemail %s: audio not attached: %s", message.id, exc)
        audio = None
    lines = [
        f"A new voicemail was left in mailbox {mailbox}.",
        "",
        f"From:      {caller}",
        f"Received:  {message.created_at.isoformat(sep=' ', timespec='seconds')}",
        f"Duration:  {message.duration_s:.0f} s",
        f"Language:  {message.language}",
        f"Message:   {message.id}",
        "",
        ("The recording is attached; it can also be downloaded from:" if audio is not None
         else "The recording could not be attached; download it from:"),
        message.audio_url,
    ]
    mail.set_content("\n".join(lines) + "\n")
    if audio is not None:
        mail.add_attachment(audio, maintype="audio", subtype="wav",
                            filename=f"{message.id}.wav")
    return mail


def _one_line(text: str) -> str:
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())[:200]


def _send(mail: EmailMessage, config: SmtpConfig) -> None:
    """One blocking SMTP delivery; failures become _Failure (SMTP 4xx / network: transient)."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password)
            refused = smtp.send_message(mail, from_addr=config.sender,
                                        to_addrs=list(config.recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _Failure(f"all recipients refused: {exc.recipients}",
                       transient=all(400 <= c < 500 for c in codes)) from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        raise _Failure(f"SMTP {exc.smtp_code} {text}",
                       transient=400 <= exc.smtp_code < 500) from None
    except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
        # No STARTTLS or AUTH on the server, or a certificate we do not trust: configuration.
        raise _Failure(f"SMTP {type(exc).__name__}: {exc}", transient=False) from None
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, timeouts, TLS
        raise _Failure(f"SMTP {type(exc).__name__}: {exc}", transient=True) from None
    if refused:
        log.warning("voicemail: e-mail refused for %s", ", ".join(refused))
