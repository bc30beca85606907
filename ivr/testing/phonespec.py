"""What one softphone run is to do, as data: the public API (``ivr.testing.softphone``) builds
it and turns it into the CLI's arguments, the pjsua2 engine (``ivr.testing.pjphone``,
``ivr.testing.pjsetup``) carries it out. It lives on its own so the engine and the API both
import it and neither imports the other for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ivr.testing.script import Step, script_to_text

DEFAULT_HOST = "127.0.0.1"
SIP_HOST_ENV = "IVR_SIP_HOST"


def asterisk_host() -> str:
    """Where a bare extension ("100") is dialled and agents register: `IVR_SIP_HOST`, else
    127.0.0.1. End-to-end workers each set their own Asterisk instance's address
    (ivr/app/asterisk_instance.py) without every call site naming it."""
    return os.environ.get(SIP_HOST_ENV, "").strip() or DEFAULT_HOST


@dataclass
class PhoneSpec:
    """Everything one softphone run needs; also how it is turned into CLI arguments."""

    target: str | None = None  # SIP URI to dial; None with answer=True
    steps: list[Step] = field(default_factory=list)
    record: Path | None = None
    caller: str | None = None  # From user for unregistered calls (carrier-trunk style)
    timeout: float = 30.0  # to get the call connected (or to receive one when answering)
    answer: bool = False  # wait for one incoming call and auto-answer it
    answer_after: float = 0.0  # ring this long before answering (an agent picking up)
    reject: int | None = None  # answer mode: refuse the call with this code (486, 603...)
    bind: str = DEFAULT_HOST
    port: int = 0  # SIP UDP port; 0 = ephemeral
    register: str | None = None  # AOR, e.g. sip:agent1001@127.0.0.1
    username: str | None = None  # auth user; defaults to the AOR's user
    password: str | None = None
    registrar: str | None = None  # defaults to sip:<AOR host>
    ready_file: Path | None = None  # answering phone writes its URI here when listening
    verbose: bool = False
    caller_name: str | None = None  # the From header's display name (caller ID name)

    def to_argv(self) -> list[str]:
        """Arguments for ``python -m ivr.testing.call_cli`` that reproduce this spec."""
        argv: list[str] = [self.target] if self.target else []
        argv += ["--script", script_to_text(self.steps), "--timeout", f"{self.timeout:g}"]
        argv += ["--bind", self.bind, "--port", str(self.port)]
        optional = {
            "--record": self.record,
            "--caller": self.caller,
            "--caller-name": self.caller_name,
            "--register": self.register,
            "--username": self.username,
            "--password": self.password,
            "--registrar": self.registrar,
            "--ready-file": self.ready_file,
            "--reject": self.reject,
        }
        for flag, value in optional.items():
            if value is not None:
                argv += [flag, str(value)]
        if self.answer:
            argv += ["--answer", "--answer-after", f"{self.answer_after:g}"]
        if self.verbose:
            argv.append("--verbose")
        return argv
